import Foundation
import Testing
import TutorTestSupport

@testable import Curriculum

/// Retrieval over the shipped curricula, on the labelled question set.
@Suite struct RetrievalTests {
  static let repository = Repository.root
  static let curricula = repository.appendingPathComponent("curricula").path
  static let questions = Repository.curriculumFixtures.appendingPathComponent("retrieval-questions.yaml").path

  @Test func labelledQuestionsAreAnsweredInTheTopThree() throws {
    let library = CurriculumLibrary.load(root: Self.curricula)
    #expect(!library.hasErrors, "\(library.diagnostics)")
    let index = SnippetIndex(library: library)
    let questions = try RetrievalEvaluation.loadQuestions(path: Self.questions)
    #expect(questions.count >= 60)
    // Every labelled id exists: a renamed heading must update the set.
    let ids = Set(library.curricula.flatMap(\.snippets).map(\.id))
    for q in questions {
      for id in q.relevant { #expect(ids.contains(id), "unknown snippet id \(id)") }
    }
    let result = RetrievalEvaluation.evaluate(questions, index: index)
    print("retrieval: \(result.summary)")
    for miss in result.misses { print("  missed: \(miss)") }
    #expect(result.recallAt3 >= 0.8)
  }

  /// Questions never used for tuning: reported, and held to a lower bar than the tuned set.
  @Test func heldOutQuestions() throws {
    let library = CurriculumLibrary.load(root: Self.curricula)
    let index = SnippetIndex(library: library)
    let path = URL(fileURLWithPath: Self.questions).deletingLastPathComponent()
      .appendingPathComponent("retrieval-questions-heldout.yaml").path
    let questions = try RetrievalEvaluation.loadQuestions(path: path)
    let result = RetrievalEvaluation.evaluate(questions, index: index)
    print("retrieval (held out): \(result.summary)")
    for miss in result.misses { print("  missed: \(miss)") }
    #expect(result.recallAt3 >= 0.7)
  }
}
