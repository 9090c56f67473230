import Foundation
import Testing
import TutorBench

@testable import Curriculum

/// The in-memory index against SQLite FTS5, the reference it replaces for speed.
@Suite struct BM25IndexTests {
  @Test(arguments: [false, true])
  func ranksAndScoresLikeFTS5(expanded: Bool) throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let ours = SnippetIndex(library: library)
    let fts5 = try FTS5SnippetIndex(library: library)
    let heldOut = URL(fileURLWithPath: RetrievalTests.questions).deletingLastPathComponent()
      .appendingPathComponent("retrieval-questions-heldout.yaml").path
    var questions = try
      (RetrievalEvaluation.loadQuestions(path: RetrievalTests.questions)
      + RetrievalEvaluation.loadQuestions(path: heldOut)).map(\.question)
    questions += ["Photosynthèse and CAFÉ résumé", "running runs runner", "xylem phloem", "what"]
    var compared = 0
    for q in questions {
      for curriculum in [nil, "photosynthesis"] as [String?] {
        let a = ours.search(q, curriculum: curriculum, limit: 10, expandQuery: expanded)
        let b = try fts5.search(q, curriculum: curriculum, limit: 10, expandQuery: expanded)
        #expect(a.map(\.id) == b.map(\.id), "\(q): \(a.map(\.id)) vs \(b.map(\.id))")
        for (x, y) in zip(a, b) {
          #expect(
            abs(x.score - y.score) <= 1e-6 * max(1, abs(y.score)),
            "\(q) \(x.id): \(x.score) vs \(y.score)"
          )
        }
        compared += 1
      }
    }
    #expect(compared > 200)
  }

  @Test(arguments: [
    ("caresses", "caress"), ("ponies", "poni"), ("ties", "ti"), ("cats", "cat"), ("feed", "feed"),
    ("agreed", "agre"), ("plastered", "plaster"), ("motoring", "motor"), ("sing", "sing"),
    ("conflated", "conflat"),
    ("troubled", "troubl"), ("sized", "size"), ("hopping", "hop"), ("falling", "fall"), ("filing", "file"),
    ("happy", "happi"), ("relational", "relat"), ("conditional", "condit"), ("rational", "ration"),
    ("digitizer", "digit"), ("operator", "oper"), ("hopefulness", "hope"), ("triplicate", "triplic"),
    ("formative", "form"), ("electrical", "electr"), ("revival", "reviv"), ("allowance", "allow"),
    ("adjustment", "adjust"), ("adoption", "adopt"), ("controll", "control"), ("rate", "rate"),
    ("photosynthesis", "photosynthesi"), ("percentages", "percentag"), ("denominators", "denomin"),
    ("generalizations", "gener"), ("oscillators", "oscil"), ("by", "by"), ("a1b", "a1b"),
  ])
  func porterStemsAsTheReference(word: String, stem: String) {
    #expect(PorterStemmer.stem(word) == stem)
  }
}
