import Curriculum
import Testing
import TutorTestSupport

@testable import Tutoring

/// The forms of an answer that the engine bans, and what stays allowed.
@Suite struct ExerciseAnswerFormsTests {
  @Test(arguments: [
    "It is 0.75 here", "so .75.", "that makes 3/4!", "6 / 8 of it", "75%", "75 percent", "three quarters",
    "three-fourths of the cake", "(0.750)", "3 over 4 then",
  ])
  func everyAcceptedFormOfANumberIsFound(text: String) {
    #expect(ExerciseAnswerForms(.numeric(value: 0.75, tolerance: 0)).revealed(in: text))
  }

  @Test(arguments: ["10.75 cm", "0.755", "3/45", "13/4", "75 apples", "a quarter", "step 3 of 4"])
  func otherNumbersAreAllowed(text: String) {
    #expect(!ExerciseAnswerForms(.numeric(value: 0.75, tolerance: 0)).revealed(in: text))
  }

  @Test func wholeNumbersMixedNumbersAndNegatives() {
    let twelve = ExerciseAnswerForms(.numeric(value: 12, tolerance: 0))
    #expect(twelve.revealed(in: "it's 12.") && twelve.revealed(in: "twelve") && twelve.revealed(in: "12.0"))
    #expect(!twelve.revealed(in: "120 or 1.2 or 112"))
    let mixed = ExerciseAnswerForms(.numeric(value: 4.25, tolerance: 0))
    #expect(mixed.revealed(in: "4 1/4") && mixed.revealed(in: "17/4") && mixed.revealed(in: "4.25"))
    let negative = ExerciseAnswerForms(.numeric(value: -3, tolerance: 0))
    #expect(negative.revealed(in: "-3") && negative.revealed(in: "minus three"))
  }

  @Test func choicesExactAndRegexAnswers() {
    let choice = ExerciseAnswerForms(.choice(choices: ["chlorophyll", "glucose"], correct: ["chlorophyll"]))
    #expect(choice.revealed(in: "It is Chlorophyll.") && !choice.revealed(in: "glucose is made"))
    // An underscore does not hide a word (a model once wrote "chlorophyll___").
    #expect(
      choice.revealed(in: "they contain chlorophyll___ enforced") && choice.revealed(in: "_chlorophyll")
    )
    #expect(ExerciseAnswerForms(.numeric(value: 0.75, tolerance: 0)).revealed(in: "0.75_"))
    let exact = ExerciseAnswerForms(.exact(["carbon dioxide"]))
    #expect(exact.revealed(in: "carbon   dioxide!") && !exact.revealed(in: "carbon atoms"))
    let regex = ExerciseAnswerForms(.regex(#"40\s*(%|percent|per cent)?"#))
    #expect(regex.revealed(in: "it is 40 percent") && regex.revealed(in: "40") && !regex.revealed(in: "400"))
  }

  @Test func aQuotedExerciseIsRecognised() throws {
    let library = CurriculumLibrary.load(root: Repository.curricula)
    let course = try #require(library.curricula.first { !$0.lessons.flatMap(\.exercises).isEmpty })
    let exercise = try #require(
      course.lessons.flatMap(\.exercises).first { $0.prompt.split(separator: " ").count >= 5 }
    )
    let found = TutoringService.quotedExercise(in: "pls do this: \(exercise.prompt) thx", curriculum: course)
    #expect(found?.1.id == exercise.id)
    #expect(TutoringService.quotedExercise(in: "why are leaves green?", curriculum: course) == nil)
  }
}
