import Curriculum
import Foundation
import Testing
import TutorTestSupport

@testable import Tutoring

/// Retrieval over the shipped curricula with the real encoder (all-MiniLM-L6-v2, fetched by the
/// test command) on every labelled set: hybrid search must beat BM25 alone everywhere, and the
/// catalog the server uses must be hybrid.
@Suite struct HybridRetrievalTests {
  static let repository = Repository.root
  static let curricula = repository.appendingPathComponent("curricula").path
  static let encoderDirectory = repository.appendingPathComponent(SnippetEncoder.defaultDirectory).path
  static let fixtures = repository.appendingPathComponent("Tests/CurriculumTests/Fixtures")

  static let encoder = Result { try SnippetEncoder.load(directory: encoderDirectory, threads: 2) }

  /// (set, floor for hybrid recall@3). The tuning sets chose the fusion weights and how student
  /// questions count; the held-out ones never influenced them.
  static let sets: [(String, Double)] = [
    ("retrieval-questions.yaml", 0.95),
    ("retrieval-questions-tuning.yaml", 0.9),
    ("retrieval-questions-heldout.yaml", 0.9),
    ("retrieval-questions-students.yaml", 0.9),
    ("retrieval-questions-students-2.yaml", 0.85),
    ("retrieval-questions-students-3.yaml", 0.85),
  ]

  @Test func hybridBeatsBM25OnEveryLabelledSet() throws {
    let library = CurriculumLibrary.load(root: Self.curricula)
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("hybrid-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: cache) }
    let hybrid = try SnippetIndex(library: library, embedder: try Self.encoder.get(), cacheFolder: cache.path)
    let bm25 = SnippetIndex(library: library)
    var without = SnippetIndex.Weights()
    without.useStudentQuestions = false
    let unasked = try SnippetIndex(
      library: library,
      weights: without,
      embedder: try Self.encoder.get(),
      cacheFolder: cache.path
    )
    for (name, floor) in Self.sets {
      let questions = try RetrievalEvaluation.loadQuestions(
        path: Self.fixtures.appendingPathComponent(name).path
      )
      let fused = RetrievalEvaluation.evaluate(questions, index: hybrid)
      let plain = RetrievalEvaluation.evaluate(questions, index: bm25)
      let notes = RetrievalEvaluation.evaluate(questions, index: unasked)
      print(
        "retrieval \(name): hybrid \(fused.summary); without student questions \(notes.summary); BM25 \(plain.summary)"
      )
      #expect(fused.recallAt3 >= plain.recallAt3, "\(name)")
      // The lessons' student questions lower no set.
      #expect(fused.recallAt3 >= notes.recallAt3, "\(name)")
      #expect(fused.recallAt3 >= floor, "\(name): \(fused.summary)")
    }
  }

  @Test func aWordInCommonIsNoNote() throws {
    let library = CurriculumLibrary.load(root: Self.curricula)
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("word-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: cache) }
    let question = "Can you explain that again more simply?"
    // BM25 matches "simply" with a note's "simple substances"; the encoder finds the two unrelated.
    let index = try SnippetIndex(library: library, embedder: try Self.encoder.get(), cacheFolder: cache.path)
    #expect(
      index.search(question, curriculum: "photosynthesis", lesson: "what-plants-need", limit: 4).isEmpty
    )
    var weights = SnippetIndex.Weights()
    weights.bm25OnlyMinimumSimilarity = -1
    let unfiltered = try SnippetIndex(
      library: library,
      weights: weights,
      embedder: try Self.encoder.get(),
      cacheFolder: cache.path
    )
    let noise = unfiltered.search(
      question,
      curriculum: "photosynthesis",
      lesson: "what-plants-need",
      limit: 4
    )
    #expect(!noise.isEmpty && noise.allSatisfy { $0.explanation?.denseRank == nil })
    // A real question keeps its notes, the ones only BM25 found included when the encoder agrees.
    let real = index.search("Why do plants need light?", curriculum: "photosynthesis", limit: 4)
    #expect(real.count == 4)
  }

  @Test func theCatalogSearchesWithTheEncoderAndKeepsItOnReload() throws {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: cache) }
    let retrieval = CurriculumCatalog.Retrieval(encoder: try Self.encoder.get(), cacheFolder: cache.path)
    let catalog = try CurriculumCatalog(root: Self.curricula, retrieval: retrieval)
    #expect(catalog.snapshot.index.isHybrid)
    #expect((catalog.snapshot.index.embeddingReport?.embedded ?? 0) > 0)
    let hits = catalog.snapshot.index.search(
      "why does my plant go all floppy",
      curriculum: "photosynthesis",
      limit: 3
    )
    #expect(hits.first?.explanation?.denseRank != nil)
    catalog.reload()
    #expect(catalog.snapshot.index.isHybrid)
    #expect(catalog.snapshot.index.embeddingReport?.embedded == 0)
  }

  @Test func questionsVectorsAreReusedAndEvictedOldestFirst() throws {
    let encoder = SnippetEncoder(try Self.encoder.get().encoder)
    let first = try encoder.embed(["why are leaves green"])
    #expect(encoder.cacheHits == (0, 1))
    #expect(try encoder.embed(["why are leaves green"]) == first)
    #expect(encoder.cacheHits == (1, 2))
    // An index build (many texts) neither reads nor fills the cache.
    _ = try encoder.embed((0 ..< 8).map { "text \($0)" })
    #expect(encoder.cacheHits == (1, 2))

    var cache = RecentVectors(capacity: 4)
    for i in 0 ..< 4 { cache.put("q\(i)", [Float(i)]) }
    _ = cache.take("q0")  // q0 is now the most recent
    cache.put("q4", [4])  // over capacity: the older half (q1, q2) goes
    #expect(cache.take("q0") == [0] && cache.take("q4") == [4] && cache.take("q3") == [3])
    #expect(cache.take("q1") == nil && cache.take("q2") == nil)
  }
}
