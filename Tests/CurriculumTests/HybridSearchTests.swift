import Foundation
import Synchronization
import Testing
import TutorTestSupport

@testable import Curriculum

/// Hybrid search with a stand-in encoder whose "meaning" is a table of concepts, so that each
/// case says exactly which snippets it considers close; the real encoder is tested in
/// EngineTests and, on the labelled sets, in TutoringTests.
@Suite struct HybridSearchTests {
  /// Embeds a text as the concepts whose cue words it contains, plus a small part that keeps it
  /// from being zero — one direction for snippets (their text has a heading line), another for
  /// questions, so that a question and a snippet sharing no concept are orthogonal —,
  /// normalised. Counts the texts it was asked for.
  final class ConceptEmbedder: TextEmbedder {
    static let concepts: [[String]] = [
      ["zorble", "simplifying fractions"],
      ["chlorophyll"],
      ["remainder"],
    ]
    let fingerprint: String
    var dimension: Int { Self.concepts.count + 2 }
    let embedded = Mutex(0)

    init(fingerprint: String = "concepts-v1") { self.fingerprint = fingerprint }

    func embed(_ texts: [String]) throws -> [[Float]] {
      embedded.withLock { $0 += texts.count }
      return texts.map { text in
        let lower = text.lowercased()
        let isSnippet = text.contains("\n")
        var v =
          Self.concepts.map { cues in cues.contains { lower.contains($0) } ? Float(1) : 0 }
          + [isSnippet ? 0.05 : 0, isSnippet ? 0 : 0.05]
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in v.indices { v[i] /= norm }
        return v
      }
    }
  }

  static func temporaryFolder() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("hybrid-\(UUID().uuidString)").path
  }

  @Test func aParaphraseBM25MissesIsFoundByTheEncoder() throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let question = "how do I zorble this"
    // BM25 has no word of it.
    #expect(SnippetIndex(library: library).search(question, curriculum: "fractions-ratios", limit: 3).isEmpty)
    let index = try SnippetIndex(library: library, embedder: ConceptEmbedder(), cacheFolder: nil)
    #expect(index.isHybrid)
    let hits = index.search(question, curriculum: "fractions-ratios", limit: 3)
    #expect(
      hits.first?.id == "fractions-ratios/equivalent-fractions#simplifying-fractions",
      "\(hits.map(\.id))"
    )
    let explanation = try #require(hits.first?.explanation)
    #expect(explanation.bm25Rank == nil && explanation.denseRank == 1)
    #expect(explanation.similarity.map { $0 > 0.9 } == true)
    // Within the curriculum asked for only.
    #expect(hits.allSatisfy { $0.curriculumId == "fractions-ratios" })
  }

  @Test func bothRankingsCountInTheFusion() throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let index = try SnippetIndex(library: library, embedder: ConceptEmbedder(), cacheFolder: nil)
    // "chlorophyll" is a word BM25 finds and a concept the encoder knows: snippets that name it
    // come first, ranked by both, each hit says where each retriever put it, and scores fall.
    let hits = index.search("what does chlorophyll do", curriculum: "photosynthesis", limit: 5)
    for hit in hits.prefix(3) {
      #expect(hit.text.lowercased().contains("chlorophyll"), "\(hits.map(\.id))")
      #expect(hit.explanation?.bm25Rank != nil && hit.explanation?.denseRank != nil, "\(hit)")
    }
    let first = try #require(hits.first?.explanation)
    #expect(first.bm25Rank != nil && first.denseRank != nil)
    #expect(hits.map(\.score) == hits.map(\.score).sorted(by: >))
    let weights = SnippetIndex.Weights()
    let expected =
      weights.bm25Weight / (weights.fusionK + Double(first.bm25Rank!)) + weights.denseWeight
      / (weights.fusionK + Double(first.denseRank!))
    #expect(abs(hits[0].score - expected) < 1e-12)
  }

  @Test func lessonBoostsStillApply() throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let index = try SnippetIndex(library: library, embedder: ConceptEmbedder(), cacheFolder: nil)
    // Several lessons mention chlorophyll; the one a student is on comes first.
    let plain = index.search("chlorophyll", curriculum: "photosynthesis", limit: 10)
    let lesson = try #require(plain.last?.lessonId)
    #expect(plain.first?.lessonId != lesson)
    let boosted = index.search("chlorophyll", curriculum: "photosynthesis", lesson: lesson, limit: 10)
    #expect(boosted.first?.lessonId == lesson, "\(plain.map(\.id)) vs \(boosted.map(\.id))")
  }

  @Test func unrelatedSnippetsAreNoCandidates() throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let index = try SnippetIndex(library: library, embedder: ConceptEmbedder(), cacheFolder: nil)
    // No word BM25 knows and no concept: no notes at all, rather than the least unrelated three.
    #expect(index.search("qwxz vbnm", curriculum: "photosynthesis", limit: 3).isEmpty)
    var weights = SnippetIndex.Weights()
    weights.minimumSimilarity = -1
    let everything = try SnippetIndex(
      library: library,
      weights: weights,
      embedder: ConceptEmbedder(),
      cacheFolder: nil
    )
    #expect(everything.search("qwxz vbnm", curriculum: "photosynthesis", limit: 3).count == 3)
  }

  @Test func theCacheReembedsOnlyChangedSnippets() throws {
    let folder = Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let total = library.curricula.flatMap(\.snippets).count
    let encoder = ConceptEmbedder()

    let first = try SnippetIndex(library: library, embedder: encoder, cacheFolder: folder)
    #expect(first.embeddingReport?.embedded == total && first.embeddingReport?.reused == 0)

    // A restart: nothing to embed.
    let restarted = try SnippetIndex(library: library, embedder: encoder, cacheFolder: folder)
    #expect(restarted.embeddingReport?.embedded == 0 && restarted.embeddingReport?.reused == total)
    #expect(encoder.embedded.withLock { $0 } == total)

    // One snippet edited: only it is embedded again, and its new text is what is searched.
    library.curricula[0].lessons[0].snippets[0].text += " Zorble!"
    let edited = try SnippetIndex(library: library, embedder: encoder, cacheFolder: folder)
    #expect(edited.embeddingReport?.embedded == 1 && edited.embeddingReport?.reused == total - 1)
    let id = library.curricula[0].lessons[0].snippets[0].id
    #expect(edited.search("zorble", curriculum: library.curricula[0].id, limit: 3).map(\.id).contains(id))

    // Another model's vectors are never reused.
    let other = try SnippetIndex(
      library: library,
      embedder: ConceptEmbedder(fingerprint: "other"),
      cacheFolder: folder
    )
    #expect(other.embeddingReport?.embedded == total)

    // A damaged cache file is ignored, then rewritten.
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter {
      $0.hasSuffix(".embeddings")
    }
    #expect(files.count == 2)
    for file in files {
      try Data("tutor-embeddings 1 4 99\ngarbage".utf8).write(to: URL(fileURLWithPath: "\(folder)/\(file)"))
    }
    let damaged = try SnippetIndex(library: library, embedder: encoder, cacheFolder: folder)
    #expect(damaged.embeddingReport?.embedded == total)
    let healed = try SnippetIndex(library: library, embedder: encoder, cacheFolder: folder)
    #expect(healed.embeddingReport?.embedded == 0)
  }

  @Test func int8VectorsKeepTheCosines() {
    var rng = SeededGenerator(seed: 384)
    let d = 384
    func unit() -> [Float] {
      let v = (0 ..< d).map { _ in Float.random(in: -1 ... 1, using: &rng) }
      let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
      return v.map { $0 / n }
    }
    let vectors = (0 ..< 300).map { _ in unit() }
    let query = unit()
    let exact = EmbeddingMatrix(vectors: vectors, dimension: d, precision: .float32)
    let small = EmbeddingMatrix(vectors: vectors, dimension: d, precision: .int8)
    #expect(small.byteCount * 3 < exact.byteCount)
    let a = exact.similarities(query, rows: 0 ..< 300)
    let b = small.similarities(query, rows: 0 ..< 300)
    for (x, y) in zip(a, b) { #expect(abs(x - y) < 0.01) }
    // A sub-range gives the same values as the full scan.
    #expect(Array(a[100 ..< 200]) == exact.similarities(query, rows: 100 ..< 200))
  }

  @Test func theQueryIsExpandedWithTheCurriculumsTerms() {
    let synonyms = ["cancel": ["simplify"], "bottom": ["denominator"]]
    #expect(
      SnippetIndex.expandedQuery("Cancel the bottom, cancel it", synonyms: synonyms)
        == "Cancel the bottom, cancel it (simplify, denominator)"
    )
    #expect(SnippetIndex.expandedQuery("why are leaves green", synonyms: synonyms) == "why are leaves green")
  }
}
