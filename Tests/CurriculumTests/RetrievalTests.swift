import Foundation
import Testing

@testable import Curriculum

/// Retrieval over the shipped curricula, on the labelled question set.
@Suite struct RetrievalTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let curricula = repository.appendingPathComponent("curricula").path
  static let questions = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/retrieval-questions.yaml").path

  @Test func labelledQuestionsAreAnsweredInTheTopThree() throws {
    let library = CurriculumLibrary.load(root: Self.curricula)
    #expect(!library.hasErrors, "\(library.diagnostics)")
    let index = try SnippetIndex(library: library)
    let questions = try RetrievalEvaluation.loadQuestions(path: Self.questions)
    #expect(questions.count >= 60)
    // Every labelled id exists: a renamed heading must update the set.
    let ids = Set(library.curricula.flatMap(\.snippets).map(\.id))
    for q in questions {
      for id in q.relevant { #expect(ids.contains(id), "unknown snippet id \(id)") }
    }
    let result = try RetrievalEvaluation.evaluate(questions, index: index)
    print(
      String(
        format: "retrieval: %d questions, recall@3 %.3f, hit@3 %.3f, MRR %.3f",
        questions.count,
        result.recallAt3,
        result.hitAt3,
        result.meanReciprocalRank
      )
    )
    for o in result.outcomes where (o.firstRelevantRank ?? 99) > 3 {
      print("  missed: \(o.question.question) → \(o.ranked.prefix(3))")
    }
    #expect(result.recallAt3 >= 0.8)
  }

  /// Questions never used for tuning: reported, and held to a lower bar than the tuned set.
  @Test func heldOutQuestions() throws {
    let library = CurriculumLibrary.load(root: Self.curricula)
    let index = try SnippetIndex(library: library)
    let path = URL(fileURLWithPath: Self.questions).deletingLastPathComponent()
      .appendingPathComponent("retrieval-questions-heldout.yaml").path
    let questions = try RetrievalEvaluation.loadQuestions(path: path)
    let result = try RetrievalEvaluation.evaluate(questions, index: index)
    print(
      String(
        format: "retrieval (held out): %d questions, recall@3 %.3f, hit@3 %.3f, MRR %.3f",
        questions.count,
        result.recallAt3,
        result.hitAt3,
        result.meanReciprocalRank
      )
    )
    for o in result.outcomes where (o.firstRelevantRank ?? 99) > 3 {
      print("  missed: \(o.question.question) → \(o.ranked.prefix(3))")
    }
    #expect(result.recallAt3 >= 0.7)
  }
}
