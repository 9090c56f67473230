import Foundation

/// One ranked search result.
public struct SnippetHit: Sendable, Equatable, Codable {
  public var id: String
  /// BM25 relevance with the lesson boosts applied; higher is better.
  public var score: Double
  public var text: String
  public var heading: String
  public var curriculumId: String
  public var lessonId: String

  public init(
    id: String,
    score: Double,
    text: String,
    heading: String,
    curriculumId: String,
    lessonId: String
  ) {
    self.id = id
    self.score = score
    self.text = text
    self.heading = heading
    self.curriculumId = curriculumId
    self.lessonId = lessonId
  }
}

/// BM25 retrieval of lesson snippets.
///
/// Each snippet has three weighted fields: `title` (section heading and lesson title), `key_terms`
/// and `body`, analysed like SQLite FTS5's `porter unicode61 remove_diacritics 2` (Unicode case
/// folding, diacritics removed, Porter stemming) and scored like FTS5's `bm25()` (see
/// ``BM25Index``). Queries drop English stop words and are expanded with prefixes, notation words
/// and the curriculum's synonyms (``QueryAnalyzer``). The index lives in memory and is built when
/// the curricula are loaded (about 1 s per 100,000 snippets).
///
/// ```swift
/// let index = SnippetIndex(library: library)
/// let hits = index.search("why are leaves green", curriculum: "photosynthesis", limit: 3)
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
    public init() {}
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

  public init(library: CurriculumLibrary, weights: Weights = Weights()) {
    self.weights = weights
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
    guard !terms.isEmpty else { return [] }
    var scored = index.scores(for: terms, in: range)
    if let curriculum, let lesson {
      let key = "\(curriculum)/\(lesson)"
      let boosts =
        [(ranges[key], weights.lessonBoost)]
        + (prerequisites[key] ?? []).map { (ranges[$0], weights.prerequisiteBoost) }
      for i in scored.indices {
        if let boost = boosts.first(where: { $0.0?.contains(scored[i].document) == true }) {
          scored[i].score *= boost.1
        }
      }
    }
    // The best `limit` in one pass (a full sort of tens of thousands of matches would dominate).
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
    return top.map { d in
      let s = snippets[d.document]
      return SnippetHit(
        id: s.id,
        score: d.score,
        text: s.text,
        heading: s.heading,
        curriculumId: s.curriculumId,
        lessonId: s.lessonId
      )
    }
  }

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
