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
    /// The section's authored student question closest to the question, and their cosine.
    public var studentQuestion: String?
    public var studentQuestionSimilarity: Double?
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
    /// A hit in one of the section's `student_questions:` (how students ask about it).
    public var studentQuestions = 1.0
    /// false leaves the lessons' `student_questions:` out of both retrievers (to measure them).
    public var useStudentQuestions = true
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
    /// Snippets whose similarity (the cosine, combined with their student questions' where they
    /// have some) is below this are left out of the embedding ranking. Questions that name
    /// nothing in the course ("what does this lesson mean?") reach 0.07–0.21 with MiniLM, real
    /// ones 0.5–0.7 with the notes that answer them; 0.25 leaves recall on the tuning sets as it
    /// was (0.2–0.3 all do).
    public var minimumSimilarity = 0.25
    /// A snippet that only BM25 found (not an embedding candidate) is left out when its
    /// similarity is below this: a word in common ("explain that more simply" and a note's
    /// "simple substances") is no reason to give a question a note the encoder finds unrelated.
    public var bm25OnlyMinimumSimilarity = 0.15
    public init() {}
  }

  public let weights: Weights
  let snippets: [Snippet]
  private let index: BM25Index
  /// Lesson key (`curriculum/lesson`) → its prerequisites' keys.
  private let prerequisites: [String: [String]]
  /// Per curriculum id, student word → curriculum terms; "" holds every curriculum's.
  private let synonyms: [String: [String: [String]]]
  /// Document numbers of each curriculum's and each lesson's snippets (contiguous, in library order).
  private let ranges: [String: Range<Int>]
  let dense: Dense?
  /// Set when the index was built with an encoder.
  public let embeddingReport: EmbeddingReport?

  /// A BM25 index.
  public convenience init(library: CurriculumLibrary, weights: Weights = Weights()) {
    self.init(library: library, weights: weights, dense: nil, report: nil)
  }

  init(library: CurriculumLibrary, weights: Weights, dense: Dense?, report: EmbeddingReport?) {
    self.weights = weights
    self.dense = dense
    embeddingReport = report
    snippets = library.curricula.flatMap(\.snippets)
    index = BM25Index(
      documents: snippets.map { s in
        [
          Self.title(s),
          s.keyTerms.joined(separator: ", "), s.text,
          weights.useStudentQuestions ? s.studentQuestions.joined(separator: "\n") : "",
        ]
      },
      weights: [weights.title, weights.keyTerms, weights.body, weights.studentQuestions]
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

  /// Student questions that take part in search (the lessons' `student_questions:`).
  public var studentQuestionCount: Int {
    weights.useStudentQuestions ? snippets.reduce(0) { $0 + $1.studentQuestions.count } : 0
  }

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
      let boosts = boostRanges(curriculum: curriculum, lesson: lesson)
      return fused(bm25: scored, query: vector, dense: dense, range: range, boosts: boosts, limit: limit)
    }
    return best(scored, limit).map { hit($0.document, score: $0.score) }
  }

  /// The lesson boosts as a function that multiplies the scores of the lesson's and its
  /// prerequisites' snippets (positive scores only: a boost must not push a poor match down).
  private func boosts(
    curriculum: String?,
    lesson: String?
  ) -> (inout [(document: Int, score: Double)]) -> Void {
    let boosts = boostRanges(curriculum: curriculum, lesson: lesson)
    guard !boosts.isEmpty else { return { _ in } }
    return { scored in
      for i in scored.indices where scored[i].score > 0 {
        if let boost = boosts.first(where: { $0.range.contains(scored[i].document) }) {
          scored[i].score *= boost.factor
        }
      }
    }
  }

  /// The documents of the lesson and of its prerequisites, with their boosts (disjoint ranges).
  func boostRanges(curriculum: String?, lesson: String?) -> [(range: Range<Int>, factor: Double)] {
    guard let curriculum, let lesson else { return [] }
    let key = "\(curriculum)/\(lesson)"
    return
      ([(ranges[key], weights.lessonBoost)]
      + (prerequisites[key] ?? []).map { (ranges[$0], weights.prerequisiteBoost) })
      .compactMap { r, f in r.map { ($0, f) } }
  }

  /// The best `limit` in one pass (a full sort of tens of thousands of matches would dominate),
  /// ties broken by snippet id.
  func best(
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

  func hit(_ document: Int, score: Double, explanation: SnippetHit.Explanation? = nil) -> SnippetHit {
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

  /// A snippet's heading, with its lesson's title when they differ.
  static func title(_ s: Snippet) -> String {
    s.heading == s.lessonTitle ? s.heading : "\(s.heading) — \(s.lessonTitle)"
  }

  /// Synonyms by curriculum id, plus all of them merged under "" for searches across curricula
  /// (built once, not per query).
  package static func synonymTable(_ library: CurriculumLibrary) -> [String: [String: [String]]] {
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
