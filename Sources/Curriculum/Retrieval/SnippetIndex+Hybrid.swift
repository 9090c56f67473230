import Foundation

// Hybrid search: the snippets' embeddings (built and cached), the query's, and their fusion with
// BM25's ranking (see ``SnippetIndex``).
extension SnippetIndex {
  /// What building a hybrid index cost.
  public struct EmbeddingReport: Sendable, Equatable {
    /// Snippets run through the encoder, and those whose vectors came from the cache.
    public var embedded: Int
    public var reused: Int
  }

  /// The encoder, the snippets' vectors, and those of their authored student questions.
  struct Dense: Sendable {
    let embedder: any TextEmbedder
    let matrix: EmbeddingMatrix
    /// One row per student question, snippet by snippet: snippet d's are rows
    /// `askedOffsets[d] ..< askedOffsets[d + 1]`.
    let asked: EmbeddingMatrix
    let askedOffsets: [Int]
    let askedTexts: [String]
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
    let snippets = library.curricula.flatMap(\.snippets)
    let texts = snippets.map(Self.embeddingText)
    let asked = snippets.map { weights.useStudentQuestions ? $0.studentQuestions : [] }
    let askedTexts = asked.flatMap { $0 }
    var askedOffsets = [0]
    for a in asked { askedOffsets.append(askedOffsets[askedOffsets.count - 1] + a.count) }
    // One pass through the cache for both, so that its file keeps the vectors of both.
    let (vectors, embedded) = try EmbeddingCache.embed(
      texts + askedTexts,
      with: embedder,
      cacheFolder: cacheFolder,
      cacheName: embedder.fingerprint
    )
    let dimension = embedder.dimension
    let dense = Dense(
      embedder: embedder,
      matrix: EmbeddingMatrix(
        vectors: Array(vectors[..<texts.count]),
        dimension: dimension,
        precision: precision
      ),
      asked: EmbeddingMatrix(
        vectors: Array(vectors[texts.count...]),
        dimension: dimension,
        precision: precision
      ),
      askedOffsets: askedOffsets,
      askedTexts: askedTexts
    )
    self.init(
      library: library,
      weights: weights,
      dense: dense,
      report: EmbeddingReport(embedded: embedded, reused: Set(texts + askedTexts).count - embedded)
    )
  }

  /// The embedder returned something other than one vector of its dimension per text.
  public enum EmbeddingError: Error, CustomStringConvertible {
    case wrongDimension(got: Int, expected: Int)
    case wrongCount(got: Int, expected: Int)
    public var description: String {
      switch self {
      case .wrongDimension(let got, let expected):
        return "the encoder returned a vector of \(got) values, expected \(expected)"
      case .wrongCount(let got, let expected):
        return "the encoder returned \(got) vectors for \(expected) texts"
      }
    }
  }

  /// The text a snippet is embedded as: its heading, its lesson's title, then its body.
  static func embeddingText(_ s: Snippet) -> String {
    title(s) + "\n" + s.text
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

  /// Reciprocal-rank fusion of the BM25 scores and the query's similarities.
  func fused(
    bm25: [(document: Int, score: Double)],
    query: [Float],
    dense: Dense,
    range: Range<Int>?,
    boosts: [(range: Range<Int>, factor: Double)],
    limit: Int
  ) -> [SnippetHit] {
    let rows = range ?? 0 ..< snippets.count
    let noteSimilarities = dense.matrix.similarities(query, rows: rows)
    let (similarities, asked) = withStudentQuestions(noteSimilarities, query: query, dense: dense, rows: rows)
    // Boosted only where a boost applies; the scan over every row stays on plain floats.
    var boosted = similarities
    for (r, factor) in boosts {
      for d in r.clamped(to: rows) where boosted[d - rows.lowerBound] > 0 {
        boosted[d - rows.lowerBound] *= Float(factor)
      }
    }
    let depth = max(limit, weights.fusionDepth)
    // A snippet the encoder finds unrelated to the question is no candidate of its ranking: a
    // question that matches nothing ("can you say that again?") gets no notes, as with BM25,
    // rather than the three least unrelated ones.
    let byEmbedding = best(boosted, offset: rows.lowerBound, depth).filter {
      similarities[$0.document - rows.lowerBound] >= Float(weights.minimumSimilarity)
    }
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
    // A BM25 match the encoder finds unrelated is noise (a shared word), not a note.
    fused = fused.filter {
      $0.value.explanation.denseRank != nil
        || similarities[$0.key - rows.lowerBound] >= Float(weights.bm25OnlyMinimumSimilarity)
    }
    let ranked = best(fused.map { (document: $0.key, score: $0.value.score) }, limit)
    return ranked.map { d in
      var explanation = fused[d.document]!.explanation
      explanation.similarity = Double(noteSimilarities[d.document - rows.lowerBound])
      if let closest = closestStudentQuestion(d.document, asked: asked, dense: dense, rows: rows) {
        explanation.studentQuestion = closest.text
        explanation.studentQuestionSimilarity = Double(closest.cosine)
      }
      return hit(d.document, score: d.score, explanation: explanation)
    }
  }

  /// The similarity each snippet ranks by: the mean of its text's cosine and the greater of that
  /// and its closest student question's, (note + max(note, question)) / 2. A question worded as a
  /// student worded it pulls its note up; one worded far from all of them costs the note nothing;
  /// a note without authored questions keeps its cosine. Chosen on the tuning sets
  /// (`tools/eval/dense_variants.py`): the note alone 0.934 / 0.878 recall@3, the closest question
  /// alone 0.927 / 0.841, max(note, question) 0.934 / 0.902, this 0.966 / 0.939. Also returns the
  /// student questions' cosines (row `r` at `r - offsets[rows.lowerBound]`).
  func withStudentQuestions(
    _ notes: [Float],
    query: [Float],
    dense: Dense,
    rows: Range<Int>
  ) -> (combined: [Float], asked: [Float]) {
    let offsets = dense.askedOffsets
    let askedRows = offsets[rows.lowerBound] ..< offsets[rows.upperBound]
    guard !askedRows.isEmpty else { return (notes, []) }
    let asked = dense.asked.similarities(query, rows: askedRows)
    var combined = notes
    for d in rows where offsets[d] < offsets[d + 1] {
      var best = -Float.infinity
      for r in offsets[d] ..< offsets[d + 1] { best = max(best, asked[r - askedRows.lowerBound]) }
      let note = notes[d - rows.lowerBound]
      combined[d - rows.lowerBound] = (note + max(note, best)) / 2
    }
    return (combined, asked)
  }

  /// Snippet `document`'s student question closest to the query, with its cosine.
  func closestStudentQuestion(
    _ document: Int,
    asked: [Float],
    dense: Dense,
    rows: Range<Int>
  ) -> (text: String, cosine: Float)? {
    let offsets = dense.askedOffsets
    let base = offsets[rows.lowerBound]
    guard !asked.isEmpty, offsets[document] < offsets[document + 1] else { return nil }
    let best = (offsets[document] ..< offsets[document + 1]).max { asked[$0 - base] < asked[$1 - base] }!
    return (dense.askedTexts[best], asked[best - base])
  }

  /// The best `limit` of `scores` (row i is document `offset + i`), as ``best(_:_:)`` ranks them,
  /// without building a tuple for each of a hundred thousand rows.
  func best(_ scores: [Float], offset: Int, _ limit: Int) -> [(document: Int, score: Double)] {
    var top: [(document: Int, score: Double)] = []
    top.reserveCapacity(limit + 1)
    for (i, value) in scores.enumerated() {
      let score = Double(value)
      if top.count == limit {
        let last = top[limit - 1]
        guard
          score > last.score || (score == last.score && snippets[offset + i].id < snippets[last.document].id)
        else { continue }
      }
      let candidate = (document: offset + i, score: score)
      let at =
        top.firstIndex {
          candidate.score > $0.score
            || (candidate.score == $0.score && snippets[candidate.document].id < snippets[$0.document].id)
        } ?? top.count
      top.insert(candidate, at: at)
      if top.count > limit { top.removeLast() }
    }
    return top
  }

  /// Whether searches fuse BM25 with an encoder's similarities.
  public var isHybrid: Bool { dense != nil }

  /// Bytes the snippets' vectors occupy in memory (0 without an encoder).
  public var embeddingBytes: Int { dense?.matrix.byteCount ?? 0 }
}
