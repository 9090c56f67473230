import Curriculum
import Foundation
import GRDB

/// The same retrieval on SQLite FTS5: the reference that ``SnippetIndex`` is checked against
/// (`BM25IndexTests`) and measured beside (`tutor bench retrieval`).
///
/// BM25 retrieval of lesson snippets on SQLite FTS5.
///
/// Snippets live in an FTS5 table with four weighted columns: `title` (section heading and lesson
/// title), `key_terms`, `body` and `student_questions`, tokenized with `porter unicode61` (Unicode case folding and
/// diacritics removal, Porter stemming). Queries drop English stop words. The index is its own
/// database, rebuilt when the curricula's content changes (a fingerprint is stored with it).
///
/// ```swift
/// let index = try FTS5SnippetIndex(library: library)            // in memory
/// let hits = try index.search("why are leaves green", curriculum: "photosynthesis", limit: 3)
/// ```
public final class FTS5SnippetIndex: Sendable {
  public typealias Weights = SnippetIndex.Weights

  private let db: DatabaseQueue
  public let weights: Weights
  /// Fingerprint of the curricula the index holds.
  public let fingerprint: String
  private let prerequisites: [String: [String]]
  /// Rowids of each curriculum's and each lesson's (`curriculum/lesson`) snippets, which are
  /// inserted in library order and so are contiguous.
  private let rowRanges: [String: ClosedRange<Int>]
  /// Per curriculum, student word → curriculum terms.
  private let synonyms: [String: [String: [String]]]

  /// Opens the index at `path` (or in memory when `nil`), rebuilding it when it was made from
  /// other curricula.
  public init(library: CurriculumLibrary, path: String? = nil, weights: Weights = Weights()) throws {
    self.weights = weights
    fingerprint = Self.fingerprint(library.curricula, studentQuestions: weights.useStudentQuestions)
    var prerequisites: [String: [String]] = [:]
    for c in library.curricula {
      for l in c.lessons { prerequisites["\(c.id)/\(l.id)"] = l.prerequisites.map { "\(c.id)/\($0)" } }
    }
    self.prerequisites = prerequisites
    var ranges: [String: ClosedRange<Int>] = [:]
    var next = 1
    for c in library.curricula {
      let start = next
      for l in c.lessons where !l.snippets.isEmpty {
        ranges["\(c.id)/\(l.id)"] = next ... (next + l.snippets.count - 1)
        next += l.snippets.count
      }
      if next > start { ranges[c.id] = start ... (next - 1) }
    }
    rowRanges = ranges
    synonyms = SnippetIndex.synonymTable(library)
    var configuration = Configuration()
    configuration.label = "snippet-index"
    // Ranking reads each match's column sizes: keep the index's pages in memory (it is read-mostly
    // and ~1 KB per snippet).
    configuration.prepareDatabase { db in
      try db.execute(sql: "PRAGMA cache_size = -131072")
      try db.execute(sql: "PRAGMA mmap_size = 1073741824")
    }
    db =
      try path.map { try DatabaseQueue(path: $0, configuration: configuration) }
      ?? DatabaseQueue(configuration: configuration)
    let stored = try? db.read { db in
      try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'fingerprint'")
    }
    if stored != fingerprint {
      try rebuild(with: library.curricula.flatMap(\.snippets))
    }
  }

  /// Whether the index was reused rather than rebuilt (for start-up logs).
  public var snippetCount: Int {
    (try? db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM snippet") }) ?? 0
  }

  private func rebuild(with snippets: [Snippet]) throws {
    try db.write { db in
      try db.execute(
        sql: """
          DROP TABLE IF EXISTS snippet_fts;
          DROP TABLE IF EXISTS snippet;
          DROP TABLE IF EXISTS meta;
          CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
          CREATE TABLE snippet (
            rowid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            curriculum_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            lesson_id TEXT NOT NULL,
            heading TEXT NOT NULL,
            text TEXT NOT NULL);
          CREATE VIRTUAL TABLE snippet_fts USING fts5(
            title, key_terms, body, student_questions, content='', tokenize='porter unicode61 remove_diacritics 2');
          """
      )
      let insertSnippet = try db.makeStatement(
        sql:
          "INSERT INTO snippet (rowid, id, curriculum_id, lesson_key, lesson_id, heading, text) VALUES (?, ?, ?, ?, ?, ?, ?)"
      )
      let insertFTS = try db.makeStatement(
        sql:
          "INSERT INTO snippet_fts (rowid, title, key_terms, body, student_questions) VALUES (?, ?, ?, ?, ?)"
      )
      for (i, s) in snippets.enumerated() {
        let title = s.heading == s.lessonTitle ? s.heading : "\(s.heading) — \(s.lessonTitle)"
        try insertSnippet.execute(arguments: [
          i + 1, s.id, s.curriculumId, "\(s.curriculumId)/\(s.lessonId)", s.lessonId, s.heading, s.text,
        ])
        try insertFTS.execute(arguments: [
          i + 1, title, s.keyTerms.joined(separator: ", "), s.text,
          weights.useStudentQuestions ? s.studentQuestions.joined(separator: "\n") : "",
        ])
      }
      try db.execute(sql: "CREATE INDEX snippet_curriculum ON snippet(curriculum_id)")
      try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('fingerprint', ?)", arguments: [fingerprint])
    }
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
  ) throws -> [SnippetHit] {
    let words = synonyms[curriculum ?? ""] ?? [:]
    guard limit > 0, let match = QueryAnalyzer.matchExpression(query, synonyms: words, expand: expandQuery)
    else {
      return []
    }
    let w = weights
    var lessonKey: String?
    if let curriculum, let lesson { lessonKey = "\(curriculum)/\(lesson)" }
    let favoured = lessonKey.map { [$0] + (prerequisites[$0] ?? []) } ?? []
    return try db.read { db in
      // Rank inside FTS5 first, limited to rowid ranges (snippets of a curriculum or a lesson are
      // stored contiguously), and join the few winners to their text afterwards: joining every
      // match before sorting cost ~100x more on large corpora.
      func candidates(_ range: ClosedRange<Int>?) throws -> [Row] {
        var arguments: StatementArguments = [match]
        var filter = ""
        if let range {
          filter = " AND rowid BETWEEN ? AND ?"
          arguments += [range.lowerBound, range.upperBound]
        }
        return try Row.fetchAll(
          db,
          sql: """
            SELECT s.id, f.score, s.text, s.heading, s.curriculum_id, s.lesson_id, s.lesson_key
            FROM (SELECT rowid, -bm25(snippet_fts, \(w.title), \(w.keyTerms), \(w.body), \(w.studentQuestions)) AS score
                  FROM snippet_fts WHERE snippet_fts MATCH ?\(filter) ORDER BY score DESC LIMIT \(max(limit * 4, 20))) f
            JOIN snippet s ON s.rowid = f.rowid
            """,
          arguments: arguments
        )
      }
      // Candidates: the best overall (within the curriculum) plus the best within the favoured
      // lessons, then re-ranked with the boosts.
      if let curriculum, rowRanges[curriculum] == nil { return [] }
      var rows = try candidates(curriculum.flatMap { rowRanges[$0] })
      for key in favoured {
        if let range = rowRanges[key] { rows += try candidates(range) }
      }
      var best: [String: SnippetHit] = [:]
      for row in rows {
        let key: String = row["lesson_key"]
        var score: Double = row["score"]
        if key == lessonKey {
          score *= w.lessonBoost
        } else if favoured.contains(key) {
          score *= w.prerequisiteBoost
        }
        let hit = SnippetHit(
          id: row["id"],
          score: score,
          text: row["text"],
          heading: row["heading"],
          curriculumId: row["curriculum_id"],
          lessonId: row["lesson_id"]
        )
        best[hit.id] = hit
      }
      return Array(
        best.values.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }.prefix(limit)
      )
    }
  }

  /// FNV-1a over every snippet's content: changes whenever a curriculum's text does.
  static func fingerprint(_ curricula: [Course], studentQuestions: Bool) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ s: String) {
      for b in s.utf8 {
        hash ^= UInt64(b)
        hash &*= 0x100_0000_01b3
      }
      hash ^= 0xff
      hash &*= 0x100_0000_01b3
    }
    mix("schema-3")
    for c in curricula {
      for s in c.snippets {
        mix(s.id)
        mix(s.heading)
        mix(s.lessonTitle)
        mix(s.keyTerms.joined(separator: "\u{1F}"))
        mix(s.text)
        mix(studentQuestions ? s.studentQuestions.joined(separator: "\u{1F}") : "")
      }
    }
    return String(hash, radix: 16)
  }
}
