import Curriculum
import Engine
import Foundation
import Testing
import TutorTestSupport

@testable import Tutoring

/// Training dialogues from the shipped curricula, in the server's prompt format.
@Suite struct TrainingExamplesTests {
  static let root = Repository.root

  @Test func everyExampleIsAServerPromptWithAGroundedAnswer() throws {
    let library = CurriculumLibrary.load(root: Self.root.appendingPathComponent("curricula").path)
    let tokenizer = try GPT2Tokenizer.load(
      directory: Self.root.appendingPathComponent("Tests/EngineTests/Fixtures/gpt2-vocab")
    )
    let count: @Sendable (String) -> Int = { tokenizer.encode($0, allowSpecialTokens: false).count }
    let examples = TrainingExamples.make(
      curricula: library.curricula,
      index: SnippetIndex(library: library),
      contextLength: 1024,
      answerTokens: 200,
      countTokens: count
    )
    #expect(examples.count > 300)
    for curriculum in library.curricula {
      for kind in ["section", "term", "hint"] {
        #expect(
          examples.contains { $0.curriculum == curriculum.id && $0.kind == kind },
          "\(curriculum.id) \(kind)"
        )
      }
    }
    for example in examples {
      #expect(example.prompt.hasSuffix("Student: \(example.question)\nTutor:"))
      #expect(example.completion.hasPrefix(" ") && example.completion.hasSuffix("\nStudent:"))
      #expect(example.stop == "\nStudent:")
      // The notes are the quoted snippets' texts, each of them in the prompt.
      #expect(example.notes.count == example.snippetIds.count)
      #expect(example.notes.allSatisfy { example.prompt.contains($0.prefix(60)) })
      #expect(count(example.prompt) <= 1024 - 200, "\(example.question)")
      // Retrieval stays in the example's curriculum, and the answer comes from its lesson.
      #expect(
        !example.snippetIds.isEmpty
          && example.snippetIds.allSatisfy { $0.hasPrefix(example.curriculum + "/") }
      )
      let lesson = try #require(library.curriculum(example.curriculum)?.lesson(example.lesson))
      let answer = example.completion.dropFirst().dropLast("\nStudent:".count)
      if example.kind == "hint" {
        #expect(lesson.exercises.contains { answer == "Here is a hint: \($0.hints.first ?? "-")" })
      } else {
        let firstSentence = String(answer.prefix { $0 != "." })
        let flattened = lesson.body.replacingOccurrences(of: "**", with: "").replacingOccurrences(
          of: "`",
          with: ""
        )
        .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flattened.contains(firstSentence), "\(firstSentence)")
      }
    }
  }

  @Test func eachCurriculumKeepsItsOwnAnswerTokensFreeAsTheServerDoes() throws {
    let library = CurriculumLibrary.load(root: Self.root.appendingPathComponent("curricula").path)
    let tokenizer = try GPT2Tokenizer.load(
      directory: Self.root.appendingPathComponent("Tests/EngineTests/Fixtures/gpt2-vocab")
    )
    let count: @Sendable (String) -> Int = { tokenizer.encode($0, allowSpecialTokens: false).count }
    let context = 420
    let examples = TrainingExamples.make(
      curricula: library.curricula,
      index: SnippetIndex(library: library),
      contextLength: context,
      countTokens: count
    )
    var longest: [String: Int] = [:]
    for example in examples {
      let reserved = try #require(library.curriculum(example.curriculum)?.generation.maxNewTokens)
      #expect(count(example.prompt) <= context - reserved)
      longest[example.curriculum] = max(longest[example.curriculum] ?? 0, count(example.prompt))
    }
    // fractions-ratios reserves 180 tokens, the others 200: its prompts use the room left.
    #expect((longest["fractions-ratios"] ?? 0) > context - 200, "\(longest)")
  }

  @Test func questionsArePhrasedSeveralWaysButAlwaysTheSameForATopic() {
    let first = TrainingExamples.phrasings(TrainingExamples.sectionQuestions, count: 2, for: "leaf structure")
    #expect(
      first == TrainingExamples.phrasings(TrainingExamples.sectionQuestions, count: 2, for: "leaf structure")
    )
    #expect(Set(first).count == 2 && first.allSatisfy { $0.contains("leaf structure") })
    let topics = [
      "fractions", "stomata", "loops", "the Calvin cycle", "ratios", "variables", "xylem", "glucose",
    ]
    let openings = Set(
      topics.map {
        TrainingExamples.phrasings(TrainingExamples.sectionQuestions, count: 1, for: $0)[0].prefix(8)
      }
    )
    #expect(openings.count >= 3, "\(openings)")
  }
}
