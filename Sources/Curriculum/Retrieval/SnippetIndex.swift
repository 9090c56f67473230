import Foundation

/// One ranked search result.
public struct SnippetHit: Sendable, Equatable, Codable {
  /// How a hit was ranked by each retriever (`tutor curriculum search --explain`).
  public struct Explanation: Sendable, Equatable, Codable {
    /// 1-based rank among the BM25 matches (lesson boosts applied), nil when not in its top
    /// ``SnippetIndex/Weights/fusionDepth`` or not matched at all.
    public var bm25Rank: Int?
    public var bm25Score: Double?
    /// 1-based rank by embedding similarity (lesson boosts applied), nil beyond the fusion depth.
    public var denseRank: Int?
    /// Cosine similarity of the question's and the snippet's embeddings.
    public var similarity: Double?
  }

  public var id: String
  /// Relevance, higher is better: the BM25 score with the lesson boosts applied, or with an
  /// encoder the reciprocal-rank fusion of the BM25 and embedding rankings.
  public var score: Double
  public var text: String
  public var heading: String
  public var curriculumId: String
  public var lessonId: String
  /// Set by hybrid search: each retriever's rank.
  public var explanation: Explanation?

  public init(
    id: String,
    score: Double,
    text: String,
    heading: String,
    curriculumId: String,
    lessonId: String,
    explanation: Explanation? = nil
  ) {
    self.id = id
    self.score = score
    self.text = text
    self.heading = heading
    self.curriculumId = curriculumId
    self.lessonId = lessonId
    self.explanation = explanation
  }
}

/// Retrieval of lesson snippets: BM25, and with a sentence encoder, BM25 fused with embedding
/// similarity.
///
/// Each snippet has three weighted fields: `title` (section heading and lesson title), `key_terms`
/// and `body`, analysed like SQLite FTS5's `porter unicode61 remove_diacritics 2` (Unicode case
/// folding, diacritics removed, Porter stemming) and scored like FTS5's `bm25()` (see
/// ``BM25Index``). Queries drop English stop words and are expanded with prefixes, notation words
/// and the curriculum's synonyms (``QueryAnalyzer``). The index lives in memory and is built when
/// the curricula are loaded (about 1 s per 100,000 snippets).
///
/// With a ``TextEmbedder`` (hybrid search), every snippet is embedded once when the index is
/// built (kept in an on-disk cache keyed by the model's fingerprint and each text's hash, so a
/// rebuild embeds only what changed) and each query once per search. The BM25 ranking and the
/// ranking by cosine similarity, each with the lesson boosts applied, are fused by reciprocal
/// rank: score = Σ weight / (k + rank) over the two, ranks beyond ``Weights/fusionDepth`` not
/// counting. Students' own words ("cancel it down") then find the lesson's ("simplify") where
/// BM25 alone cannot, and exact terms still win where embeddings blur them.
///
/// ```swift
/// let index = SnippetIndex(library: library)
/// let hits = index.search("why are leaves green", curriculum: "photosynthesis", limit: 3)
/// let hybrid = try SnippetIndex(library: library, embedder: encoder, cacheFolder: "/var/cache/tutor")
/// ```
public final class SnippetIndex: Sendable {
  /// Field weights, and the boosts for the lesson a student is on.
  public struct Weights: Sendable, Equatable {
    /// A hit in a heading or key term counts more than one in the body.
    public var title = 2.5
    public var keyTerms = 3.0
    public var body = 1.0
    /// Multipliers for hits in the lesson a student is on, and in its prerequisites.
    public var lessonBoost = 1.5
    public var prerequisiteBoost = 1.2
    /// Hybrid search: k of reciprocal-rank fusion, each ranking's weight, and how many of each
    /// ranking take part. The embedding ranking counts twice as much as BM25's: chosen on the
    /// labelled sets `retrieval-questions.yaml` and `retrieval-questions-tuning.yaml` (students'
    /// own words, where BM25 alone finds 0.66 of the notes and embeddings 0.88), never on the
    /// held-out sets.
    public var fusionK = 60.0
    public var bm25Weight = 1.0
    public var denseWeight = 2.0
    public var fusionDepth = 50
    public init() {}
  }

  /// What building a hybrid index cost.
  public struct EmbeddingReport: Sendable, Equatable {
    /// Snippets run through the encoder, and those whose vectors came from the cache.
    public var embedded: Int
    public var reused: Int
    public var seconds: Double
  }

  /// The encoder and the snippets' vectors, for hybrid search.
  struct Dense: Sendable {
    let embedder: any TextEmbedder
    let matrix: EmbeddingMatrix
  }

  public let weights: Weights
  private let snippets: [Snippet]
  private let index: BM25Index
  /// Lesson key (`curriculum/lesson`) → its prerequisites' keys.
  private let prerequisites: [String: [String]]
  /// Per curriculum id, student word → curriculum terms; "" holds every curriculum's.
  private let synonyms: [String: [String: [String]]]
  /// Document numbers of each curriculum's and each lesson's snippets (contiguous, in library order).
  private let ranges: [String: Range<Int>]
  private let dense: Dense?
  /// Set when the index was built with an encoder.
  public let embeddingReport: EmbeddingReport?

  /// A BM25 index.
  public convenience init(library: CurriculumLibrary, weights: Weights = Weights()) {
    self.init(library: library, weights: weights, dense: nil, report: nil)
  }

  /// A hybrid index: BM25 fused with `embedder`'s similarities (see the type's documentation).
  /// - Parameters:
  ///   - cacheFolder: where snippet vectors are kept between runs; nil embeds every snippet.
  ///   - precision: how the vectors are held in memory.
  /// - Throws: what the embedder throws; a cache that cannot be written is not an error.
  public convenience init(
    library: CurriculumLibrary,
    weights: Weights = Weights(),
    embedder: any TextEmbedder,
    cacheFolder: String?,
    precision: EmbeddingMatrix.Precision = .int8
  ) throws {
    let start = ContinuousClock.now
    let snippets = library.curricula.flatMap(\.snippets)
    let texts = snippets.map(Self.embeddingText)
    let keys = texts.map(EmbeddingCache.hash)
    let cache = cacheFolder.map {
      EmbeddingCache(folder: $0, fingerprint: embedder.fingerprint, dimension: embedder.dimension)
    }
    var known = cache?.load() ?? [:]
    var missing: [Int] = []
    var seen = Set<UInt64>()
    for (i, key) in keys.enumerated() where known[key] == nil && seen.insert(key).inserted {
      missing.append(i)
    }
    let fresh = try embedder.embed(missing.map { texts[$0] })
    for (i, vector) in zip(missing, fresh) {
      guard vector.count == embedder.dimension else {
        throw EmbeddingError.wrongDimension(got: vector.count, expected: embedder.dimension)
      }
      known[keys[i]] = vector
    }
    let vectors = keys.map { known[$0]! }
    if let cache, !missing.isEmpty || known.count != Set(keys).count {
      var written = Set<UInt64>()
      try? cache.store(zip(keys, vectors).filter { written.insert($0.0).inserted }.map { ($0.0, $0.1) })
    }
    let matrix = EmbeddingMatrix(vectors: vectors, dimension: embedder.dimension, precision: precision)
    self.init(
      library: library,
      weights: weights,
      dense: Dense(embedder: embedder, matrix: matrix),
      report: EmbeddingReport(
        embedded: missing.count,
        reused: snippets.count - missing.count,
        seconds: (ContinuousClock.now - start) / .seconds(1)
      )
    )
  }

  /// A vector of the wrong length came back from the embedder.
  public enum EmbeddingError: Error, CustomStringConvertible {
    case wrongDimension(got: Int, expected: Int)
    public var description: String {
      switch self {
      case .wrongDimension(let got, let expected):
        return "the encoder returned a vector of \(got) values, expected \(expected)"
      }
    }
  }

  /// The text a snippet is embedded as: its heading, its lesson's title, then its body.
  static func embeddingText(_ s: Snippet) -> String {
    (s.heading == s.lessonTitle ? s.heading : "\(s.heading) — \(s.lessonTitle)") + "\n" + s.text
  }

  private init(library: CurriculumLibrary, weights: Weights, dense: Dense?, report: EmbeddingReport?) {
    self.weights = weights
    self.dense = dense
    embeddingReport = report
    snippets = library.curricula.flatMap(\.snippets)
    index = BM25Index(
      documents: snippets.map { s in
        [
          s.heading == s.lessonTitle ? s.heading : "\(s.heading) — \(s.lessonTitle)",
          s.keyTerms.joined(separator: ", "), s.text,
        ]
      },
      weights: [weights.title, weights.keyTerms, weights.body]
    )
    var prerequisites: [String: [String]] = [:]
    var ranges: [String: Range<Int>] = [:]
    var next = 0
    for c in library.curricula {
      let start = next
      for l in c.lessons {
        prerequisites["\(c.id)/\(l.id)"] = l.prerequisites.map { "\(c.id)/\($0)" }
        ranges["\(c.id)/\(l.id)"] = next ..< (next + l.snippets.count)
        next += l.snippets.count
      }
      ranges[c.id] = start ..< next
    }
    self.prerequisites = prerequisites
    self.ranges = ranges
    synonyms = Self.synonymTable(library)
  }

  public var snippetCount: Int { snippets.count }

  /// The best `limit` snippets for `query`, optionally within one curriculum; with `lesson`, hits in
  /// that lesson and its prerequisites are favoured.
  /// - Parameter expandQuery: false searches the plain words only (no prefixes, synonyms or
  ///   notation words): classic BM25, for comparisons with other implementations.
  public func search(
    _ query: String,
    curriculum: String? = nil,
    lesson: String? = nil,
    limit: Int = 5,
    expandQuery: Bool = true
  ) -> [SnippetHit] {
    guard limit > 0 else { return [] }
    var range: Range<Int>?
    if let curriculum {
      guard let r = ranges[curriculum] else { return [] }
      range = r
    }
    let words = synonyms[curriculum ?? ""] ?? [:]
    let terms = QueryAnalyzer.terms(query, synonyms: words, expand: expandQuery)
    var scored = terms.isEmpty ? [] : index.scores(for: terms, in: range)
    let boost = boosts(curriculum: curriculum, lesson: lesson)
    boost(&scored)
    // Hybrid search embeds the query; should the encoder fail, BM25 alone answers.
    if let dense, let vector = Self.queryVector(query, synonyms: words, embedder: dense.embedder),
      vector.count == dense.matrix.dimension
    {
      return fused(bm25: scored, query: vector, dense: dense, range: range, boost: boost, limit: limit)
    }
    return best(scored, limit).map { hit($0.document, score: $0.score) }
  }

  /// The question with, in brackets, the curriculum's terms for the words students use in it
  /// ("cancel it down (simplify)"): the table BM25 expands with. The encoder does not know that a
  /// course calls cancelling "simplifying"; its authors do.
  static func expandedQuery(_ query: String, synonyms: [String: [String]]) -> String {
    var seen = Set<String>()
    let terms = QueryAnalyzer.words(query).flatMap { synonyms[$0] ?? [] }.filter { seen.insert($0).inserted }
    return terms.isEmpty ? query : "\(query) (\(terms.joined(separator: ", ")))"
  }

  /// The query's vector: the mean of the question's and the expanded question's embeddings (both
  /// in one batch), so that the student's own words keep half the say when a synonym misleads;
  /// just the question's when no synonym applies. Nil when the encoder fails.
  static func queryVector(
    _ query: String,
    synonyms: [String: [String]],
    embedder: any TextEmbedder
  ) -> [Float]? {
    let expanded = expandedQuery(query, synonyms: synonyms)
    guard let vectors = try? embedder.embed(expanded == query ? [query] : [query, expanded]),
      let first = vectors.first
    else { return nil }
    guard vectors.count == 2, vectors[1].count == first.count else { return first }
    let sum = zip(first, vectors[1]).map { $0 + $1 }
    let norm = max(sum.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
    return sum.map { $0 / norm }
  }

  /// The lesson boosts as a function that multiplies the scores of the lesson's and its
  /// prerequisites' snippets (positive scores only: a boost must not push a poor match down).
  private func boosts(
    curriculum: String?,
    lesson: String?
  ) -> (inout [(document: Int, score: Double)]) -> Void {
    guard let curriculum, let lesson else { return { _ in } }
    let key = "\(curriculum)/\(lesson)"
    let boosts =
      [(ranges[key], weights.lessonBoost)]
      + (prerequisites[key] ?? []).map { (ranges[$0], weights.prerequisiteBoost) }
    return { scored in
      for i in scored.indices where scored[i].score > 0 {
        if let boost = boosts.first(where: { $0.0?.contains(scored[i].document) == true }) {
          scored[i].score *= boost.1
        }
      }
    }
  }

  /// Reciprocal-rank fusion of the BM25 scores and the query's similarities.
  private func fused(
    bm25: [(document: Int, score: Double)],
    query: [Float],
    dense: Dense,
    range: Range<Int>?,
    boost: (inout [(document: Int, score: Double)]) -> Void,
    limit: Int
  ) -> [SnippetHit] {
    let rows = range ?? 0 ..< snippets.count
    let similarities = dense.matrix.similarities(query, rows: rows)
    var byEmbedding = similarities.enumerated().map {
      (document: rows.lowerBound + $0.offset, score: Double($0.element))
    }
    boost(&byEmbedding)
    let depth = max(limit, weights.fusionDepth)
    var fused: [Int: (score: Double, explanation: SnippetHit.Explanation)] = [:]
    for (rank, d) in best(bm25, depth).enumerated() {
      fused[d.document, default: (0, .init())].score +=
        weights.bm25Weight / (weights.fusionK + Double(rank + 1))
      fused[d.document]!.explanation.bm25Rank = rank + 1
      fused[d.document]!.explanation.bm25Score = d.score
    }
    for (rank, d) in best(byEmbedding, depth).enumerated() {
      fused[d.document, default: (0, .init())].score +=
        weights.denseWeight / (weights.fusionK + Double(rank + 1))
      fused[d.document]!.explanation.denseRank = rank + 1
    }
    let ranked = best(fused.map { (document: $0.key, score: $0.value.score) }, limit)
    return ranked.map { d in
      var explanation = fused[d.document]!.explanation
      explanation.similarity = Double(similarities[d.document - rows.lowerBound])
      return hit(d.document, score: d.score, explanation: explanation)
    }
  }

  /// The best `limit` in one pass (a full sort of tens of thousands of matches would dominate),
  /// ties broken by snippet id.
  private func best(
    _ scored: [(document: Int, score: Double)],
    _ limit: Int
  ) -> [(document: Int, score: Double)] {
    func before(_ a: (document: Int, score: Double), _ b: (document: Int, score: Double)) -> Bool {
      a.score > b.score || (a.score == b.score && snippets[a.document].id < snippets[b.document].id)
    }
    var top: [(document: Int, score: Double)] = []
    top.reserveCapacity(limit + 1)
    for candidate in scored where top.count < limit || before(candidate, top[top.count - 1]) {
      let at = top.firstIndex { before(candidate, $0) } ?? top.count
      top.insert(candidate, at: at)
      if top.count > limit { top.removeLast() }
    }
    return top
  }

  private func hit(_ document: Int, score: Double, explanation: SnippetHit.Explanation? = nil) -> SnippetHit {
    let s = snippets[document]
    return SnippetHit(
      id: s.id,
      score: score,
      text: s.text,
      heading: s.heading,
      curriculumId: s.curriculumId,
      lessonId: s.lessonId,
      explanation: explanation
    )
  }

  /// Whether searches fuse BM25 with an encoder's similarities.
  public var isHybrid: Bool { dense != nil }

  /// Bytes the snippets' vectors occupy in memory (0 without an encoder).
  public var embeddingBytes: Int { dense?.matrix.byteCount ?? 0 }

  /// Synonyms by curriculum id, plus all of them merged under "" for searches across curricula
  /// (built once, not per query).
  static func synonymTable(_ library: CurriculumLibrary) -> [String: [String: [String]]] {
    var table = Dictionary(library.curricula.map { ($0.id, $0.synonyms) }, uniquingKeysWith: { a, _ in a })
    table[""] = library.curricula.reduce(into: [:]) { all, c in all.merge(c.synonyms) { $0 + $1 } }
    return table
  }

  /// The words a query searches for before expansion (case-folded, stop words removed).
  public static func queryTerms(_ query: String) -> [String] {
    let all = QueryAnalyzer.words(query)
    let kept = all.filter { !QueryAnalyzer.stopWords.contains($0) }
    return kept.isEmpty ? all : kept
  }
}
