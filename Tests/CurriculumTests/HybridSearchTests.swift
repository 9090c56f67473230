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
  /// from being zero — one direction for snippets (their text has a heading line), and for
  /// questions (a student's, or one a lesson lists under `student_questions:`) a direction of its
  /// own drawn from its text, so that a snippet and a question sharing no concept are orthogonal
  /// and two such questions nearly so —, normalised. Counts the texts it was asked for.
  final class ConceptEmbedder: TextEmbedder {
    static let concepts: [[String]] = [
      ["zorble", "simplifying fractions"],
      ["chlorophyll"],
      ["remainder"],
    ]
    static let questionDimensions = 256
    let fingerprint: String
    var dimension: Int { Self.concepts.count + 1 + Self.questionDimensions }
    let embedded = Mutex(0)

    init(fingerprint: String = "concepts-v1") { self.fingerprint = fingerprint }

    func embed(_ texts: [String]) throws -> [[Float]] {
      embedded.withLock { $0 += texts.count }
      return texts.map { text in
        let lower = text.lowercased()
        let isSnippet = text.contains("\n")
        var v = Self.concepts.map { cues in cues.contains { lower.contains($0) } ? Float(1) : 0 }
        v.append(isSnippet ? 0.05 : 0)
        // A question's own direction: pseudo-random values seeded by its text, of norm 0.05.
        var seed = text.utf8.reduce(UInt64(0xCBF2_9CE4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
        var noise = (0 ..< Self.questionDimensions).map { _ -> Float in
          seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
          return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000)
        }
        let scale = isSnippet ? 0 : 0.05 / max(noise.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1)
        for i in noise.indices { noise[i] *= scale }
        v += noise
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
    let lesson = try #require(plain.first { $0.lessonId != plain.first?.lessonId }?.lessonId)
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

  @Test func aStudentQuestionBringsItsNoteUp() throws {
    var library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let question = "do the remainder thing to my fraction"
    let course = try #require(library.curricula.firstIndex { $0.id == "fractions-ratios" })
    let lesson = try #require(library.curricula[course].lessons.firstIndex { $0.id == "ratios" })
    let target = library.curricula[course].lessons[lesson].snippets[2]
    // Without it, neither retriever puts the ratios note on top: the question's concept
    // ("remainder") is in no note of the course.
    let before = try SnippetIndex(library: library, embedder: ConceptEmbedder(), cacheFolder: nil)
    #expect(before.search(question, curriculum: "fractions-ratios", limit: 3).first?.id != target.id)
    // An author writes that students ask about this note that way.
    library.curricula[course].lessons[lesson].snippets[2].studentQuestions = ["what is the remainder thing"]
    let after = try SnippetIndex(library: library, embedder: ConceptEmbedder(), cacheFolder: nil)
    let hits = after.search(question, curriculum: "fractions-ratios", limit: 3)
    let first = try #require(hits.first)
    #expect(first.id == target.id, "\(hits.map(\.id))")
    let explanation = try #require(first.explanation)
    #expect(explanation.studentQuestion == "what is the remainder thing")
    #expect(explanation.studentQuestionSimilarity.map { $0 > 0.9 } == true)
    // Ranked by the mean of the note's cosine and the question's (the greater of the two).
    #expect(explanation.similarity.map { $0 < 0.1 } == true)
    // BM25 matches the authored question's words too ("remainder", "thing").
    #expect(explanation.bm25Rank == 1)
    // Turned off, the authored question counts for nothing.
    var weights = SnippetIndex.Weights()
    weights.useStudentQuestions = false
    let off = try SnippetIndex(
      library: library,
      weights: weights,
      embedder: ConceptEmbedder(),
      cacheFolder: nil
    )
    #expect(off.search(question, curriculum: "fractions-ratios", limit: 3).first?.id != target.id)
  }

  @Test func theCacheReembedsOnlyChangedSnippets() throws {
    let folder = Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    // Every snippet and every distinct student question is one vector.
    let snippets = library.curricula.flatMap(\.snippets)
    var total = Set(snippets.map(SnippetIndex.embeddingText) + snippets.flatMap(\.studentQuestions)).count
    #expect(total > snippets.count)
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

    // One student question added: only it is embedded.
    library.curricula[0].lessons[0].snippets[1].studentQuestions.append("where does the chlorophyll go")
    let asked = try SnippetIndex(library: library, embedder: encoder, cacheFolder: folder)
    #expect(asked.embeddingReport?.embedded == 1 && asked.embeddingReport?.reused == total)
    total += 1

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
