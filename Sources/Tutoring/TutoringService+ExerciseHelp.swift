import Curriculum
import Engine
import Foundation
import TutorStore

// Help with an exercise that teaches rather than tells: a guiding question and the note first,
// the exercise's own hints after wrong attempts, then a worked similar example; never the answer.
extension TutoringService {
  /// How the tutor helped with an exercise in one answer.
  public struct ExerciseHelp: Sendable, Equatable {
    public enum Level: String, Sendable {
      /// A guiding question and the relevant note (before any wrong attempt).
      case guidingQuestion = "guiding_question"
      /// The exercise's hints, one more per wrong attempt.
      case hint
      /// A similar exercise worked through (the hints are used up, or mastery is low).
      case workedExample = "worked_example"
    }

    public var exerciseId: String
    public var level: Level
    /// The exercise's hints shown in this answer, in order.
    public var hints: [String]
    /// Whether the exercise was recognised in the question rather than named.
    public var recognised: Bool
    public var wrongAttempts: Int
  }

  /// What an answer about an exercise is built from: the help, the text the tutor opens with
  /// (teacher-written hints and examples, checked not to give the answer away), and the forms of
  /// the answer the engine bans.
  struct ExercisePlan: Sendable {
    var help: ExerciseHelp
    var exercise: Exercise
    var lesson: Lesson
    var forms: ExerciseAnswerForms
    /// Filled in by ``scaffold(note:)`` once the note is known.
    var opening = ""
  }

  /// Below this mastery (BKT), a student with two wrong attempts gets a worked example.
  static let workedExampleMastery = 0.3

  /// The plan for a question about `exerciseId` (INVALID_ARGUMENT when the curriculum has no
  /// such exercise), or about an exercise the question quotes; nil for any other question.
  func exercisePlan(
    exerciseId: String?,
    question: String,
    curriculum: Course,
    session: StoredSession
  ) async throws -> ExercisePlan? {
    var found: (Lesson, Exercise)?
    var recognised = false
    if let exerciseId, !exerciseId.isEmpty {
      try checkIdentifier(exerciseId, field: "exercise_id")
      found = curriculum.lessons.lazy.compactMap { l in l.exercise(exerciseId).map { (l, $0) } }.first
      guard found != nil else {
        throw TutoringError.invalidArgument("curriculum '\(curriculum.id)' has no exercise '\(exerciseId)'")
      }
    } else if let quoted = Self.quotedExercise(in: question, curriculum: curriculum) {
      found = quoted
      recognised = true
    }
    guard let (lesson, exercise) = found else { return nil }
    let wrong = try await store.attemptCounts(sessionId: session.id, exerciseId: exercise.id).wrong
    var mastery: Double?
    if let objective = exercise.objective {
      mastery = try await store.mastery(studentId: session.studentId, curriculumId: curriculum.id)
        .first { $0.objectiveId == objective }?.probability
    }
    let hints = exercise.hints
    let level: ExerciseHelp.Level
    var shown: [String]
    switch curriculum.pedagogy {
    case .socratic:
      shown = Array(hints.prefix(wrong))
      if wrong > hints.count || (wrong >= 2 && (mastery ?? 1) < Self.workedExampleMastery) {
        level = .workedExample
      } else {
        level = wrong == 0 ? .guidingQuestion : .hint
      }
    case .direct:
      shown = hints
      level = wrong >= 1 ? .workedExample : hints.isEmpty ? .guidingQuestion : .hint
    }
    let forms = ExerciseAnswerForms(exercise.answer)
    // A hint that gives the answer away is left out (the teacher wrote it for after the attempt).
    shown = shown.filter { !forms.revealed(in: $0) }
    return ExercisePlan(
      help: ExerciseHelp(
        exerciseId: exercise.id,
        level: level,
        hints: shown,
        recognised: recognised,
        wrongAttempts: wrong
      ),
      exercise: exercise,
      lesson: lesson,
      forms: forms
    )
  }

  /// The exercise of `curriculum` whose prompt `question` quotes: most of the prompt's word
  /// pairs appear in the question (a short prompt must appear whole).
  static func quotedExercise(in question: String, curriculum: Course) -> (Lesson, Exercise)? {
    func words(_ text: String) -> [String] {
      text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }
    let asked = words(question)
    let askedText = " " + asked.joined(separator: " ") + " "
    let askedPairs = Set(zip(asked, asked.dropFirst()).map { "\($0) \($1)" })
    var best: (score: Double, lesson: Lesson, exercise: Exercise)?
    for lesson in curriculum.lessons {
      for exercise in lesson.exercises {
        let prompt = words(exercise.prompt)
        guard prompt.count >= 2 else { continue }
        let score: Double
        if prompt.count < 5 {
          score = askedText.contains(" " + prompt.joined(separator: " ") + " ") ? 1 : 0
        } else {
          let pairs = zip(prompt, prompt.dropFirst()).map { "\($0) \($1)" }
          score = Double(pairs.filter(askedPairs.contains).count) / Double(pairs.count)
        }
        if score >= 0.6, score > (best?.score ?? 0) { best = (score, lesson, exercise) }
      }
    }
    return best.map { ($0.lesson, $0.exercise) }
  }

  /// What the tutor opens with, by level: the note and a guiding question; the hints so far;
  /// a similar exercise worked through. Every part is checked not to contain the answer.
  static func opening(
    _ plan: ExercisePlan,
    curriculum: Course,
    note: SnippetHit?
  ) -> String {
    let forms = plan.forms
    var parts: [String] = []
    switch plan.help.level {
    case .guidingQuestion:
      parts.append("Let's work it out together; I won't give you the answer, but I'll help you find it.")
      if let note, let first = NoteSentences.split(note.text).first, !forms.revealed(in: first) {
        parts.append("The note \"\(note.heading)\" says: \(first)")
      }
      parts.append(guidingQuestion(plan.exercise.answer))
    case .hint, .workedExample:
      if plan.help.hints.count == 1 {
        parts.append("Here's a hint: \(plan.help.hints[0])")
      } else if !plan.help.hints.isEmpty {
        parts.append(
          "Here are the hints so far: "
            + plan.help.hints.enumerated().map { "(\($0.offset + 1)) \($0.element)" }.joined(separator: " ")
        )
      }
      if plan.help.level == .workedExample, let example = workedExample(plan, curriculum: curriculum) {
        parts.append(example)
      } else {
        parts.append("What would you try next?")
      }
    }
    let text = parts.joined(separator: " ")
    return forms.revealed(in: text) ? guidingQuestion(plan.exercise.answer) : text
  }

  static func guidingQuestion(_ answer: Answer) -> String {
    switch answer {
    case .numeric:
      "What does the exercise give you, and which step from the lesson could you use first?"
    case .choice:
      "Look at each choice: which one fits what the lesson says, and why?"
    case .exact, .regex:
      "Which idea from the lesson fits here? Try saying it in your own words first."
    }
  }

  /// Another exercise of the same objective (else of the same lesson), solved: its prompt, its
  /// explanation and its answer, when none of them gives this exercise's answer away.
  static func workedExample(_ plan: ExercisePlan, curriculum: Course) -> String? {
    let others = curriculum.lessons.flatMap { lesson in lesson.exercises.map { (lesson, $0) } }
      .filter { $0.1.id != plan.exercise.id }
    let sameObjective = others.filter {
      plan.exercise.objective != nil && $0.1.objective == plan.exercise.objective
    }
    let sameLesson = others.filter { $0.0.id == plan.lesson.id }
    for (_, other) in sameObjective + sameLesson {
      guard let answer = displayAnswer(other.answer) else { continue }
      var text = "Let's work through a similar one. \(other.prompt)"
      if let explanation = other.explanation { text += " \(explanation)" }
      text += " So the answer there is \(answer). Now try the same steps on your exercise."
      if !plan.forms.revealed(in: text) { return text }
    }
    return nil
  }

  static func displayAnswer(_ answer: Answer) -> String? {
    switch answer {
    case .numeric(let value, _):
      value == value.rounded() ? String(Int(value)) : ExerciseAnswerForms.decimalText(value, places: 6)
    case .choice(_, let correct): correct.first
    case .exact(let texts): texts.first
    case .regex: nil
    }
  }
}
