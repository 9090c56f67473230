import Foundation
import GRDB

/// Which records an export covers. Every condition is optional; times compare with the record's
/// creation time (`since` inclusive, `until` exclusive).
public struct ExportFilter: Sendable, Equatable {
  public var since: Date?
  public var until: Date?
  public var curriculumId: String?
  public var studentId: String?

  public init(since: Date? = nil, until: Date? = nil, curriculumId: String? = nil, studentId: String? = nil) {
    self.since = since
    self.until = until
    self.curriculumId = curriculumId
    self.studentId = studentId
  }
}

/// One record of the learning record as an export reads it: a turn (question and explanation)
/// with its session's student, curriculum and lesson, or a graded attempt.
public enum ExportRecord: Sendable, Equatable {
  case turn(StoredTurn, studentId: String, curriculumId: String, lessonId: String)
  /// A graded attempt, with where it stands among the attempts of its session.
  case attempt(StoredAttempt, AttemptContext)

  public var createdAtMs: Int64 {
    switch self {
    case .turn(let turn, _, _, _): turn.createdAtMs
    case .attempt(let attempt, _): attempt.createdAtMs
    }
  }
}

/// Where an attempt stands in its session, for the formats (DataShop) that describe steps.
public struct AttemptContext: Sendable, Equatable {
  /// The attempt's number among its session's attempts at the exercise, from 1.
  public var number: Int
  /// How many attempts its session made at the exercise (up to the export's `until`).
  public var of: Int
  /// When work on this attempt began: the session's previous attempt (at any exercise), or the
  /// session's start for its first. The attempt's duration is the time from here to the attempt.
  public var startedAtMs: Int64
  /// When work on the exercise began: ``startedAtMs`` of the session's first attempt at it.
  public var exerciseStartedAtMs: Int64

  public init(number: Int, of: Int, startedAtMs: Int64, exerciseStartedAtMs: Int64) {
    self.number = number
    self.of = of
    self.startedAtMs = startedAtMs
    self.exerciseStartedAtMs = exerciseStartedAtMs
  }

  public var isLast: Bool { number == of }
}

extension LearningRecordStore {
  /// Reads the turns and attempts that `filter` selects, oldest first, and hands them to `body`
  /// one at a time.
  ///
  /// The records come from a database cursor, so memory stays flat however many there are. The
  /// read runs on one of the pool's reader connections inside one read transaction: it sees one
  /// consistent snapshot and, the database being in WAL mode, never blocks tutoring's writes.
  /// It blocks the calling thread: call it from a thread of its own, not from Swift's
  /// cooperative pool. An error thrown by `body` stops the export and is rethrown.
  public func exportRecords(_ filter: ExportFilter, _ body: (ExportRecord) throws -> Void) throws {
    // Attempts are numbered and timed over their whole session, so `since` applies after the
    // window functions (an export that starts mid-session still says "attempt 3" and times it
    // from attempt 2); the other conditions select whole sessions, and `until` only cuts off
    // what comes later, so they apply before.
    var turn = Conditions()
    var attempt = Conditions()
    var attemptSince = Conditions()
    if let until = filter.until?.millisecondsSince1970 {
      turn.add("t.created_at < ?", until)
      attempt.add("a.created_at < ?", until)
    }
    if let curriculum = filter.curriculumId {
      turn.add("s.curriculum_id = ?", curriculum)
      attempt.add("a.curriculum_id = ?", curriculum)
    }
    if let student = filter.studentId {
      turn.add("s.student_id = ?", student)
      attempt.add("a.student_id = ?", student)
    }
    if let since = filter.since?.millisecondsSince1970 {
      turn.add("t.created_at >= ?", since)
      attemptSince.add("created_at >= ?", since)
    }
    // Columns by position (the decoding below reads them by index, which is what keeps an export
    // of a million records fast): 0 kind, 1 id, 2 session, 3 student, 4 curriculum, 5 lesson,
    // 6 created_at, 7 turn index / attempt number, 8 question / exercise, 9 answer,
    // 10 snippet ids / objective, 11 prompt tokens / correct, 12 completion tokens / hints before,
    // 13 latency / hint revealed, 14 status / attempts in all, 15 finish reason / started at,
    // 16 completed_at / exercise started at.
    let sql = """
      SELECT 0, t.id, t.session_id, s.student_id, s.curriculum_id, s.lesson_id, t.created_at, t.idx,
             t.question, t.answer, t.snippet_ids, t.prompt_tokens, t.completion_tokens, t.latency_ms,
             t.status, t.finish_reason, t.completed_at
      FROM turn t JOIN session s ON s.id = t.session_id
      \(turn.whereClause)
      UNION ALL
      SELECT 1, id, session_id, student_id, curriculum_id, lesson_id, created_at, number, exercise_id,
             answer, objective_id, correct, hints_revealed, hint_revealed, total, started_at,
             exercise_started_at
      FROM (
        SELECT *,
               ROW_NUMBER() OVER (PARTITION BY session_id, exercise_id ORDER BY created_at, id) AS number,
               COUNT(*) OVER (PARTITION BY session_id, exercise_id) AS total,
               MIN(started_at) OVER (PARTITION BY session_id, exercise_id) AS exercise_started_at
        FROM (
          SELECT a.*,
                 LAG(a.created_at, 1, s.created_at) OVER (PARTITION BY a.session_id ORDER BY a.created_at, a.id)
                   AS started_at
          FROM attempt a JOIN session s ON s.id = a.session_id
          \(attempt.whereClause)
        )
      )
      \(attemptSince.whereClause)
      ORDER BY 7, 1, 2
      """
    let arguments = turn.arguments + attempt.arguments + attemptSince.arguments
    try pool.read { db in
      let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
      while let row = try cursor.next() {
        try body(try Self.exportRecord(row))
      }
    }
  }

  private static func exportRecord(_ row: Row) throws -> ExportRecord {
    let kind: Int = row[0]
    if kind == 0 {
      let snippets: String = row[10]
      let turn = StoredTurn(
        id: row[1],
        sessionId: row[2],
        index: row[7],
        question: row[8],
        answer: row[9],
        snippetIds: Self.decodeSnippetIds(snippets),
        promptTokens: row[11],
        completionTokens: row[12],
        latencyMilliseconds: row[13],
        status: StoredTurn.Status(rawValue: row[14]) ?? .failed,
        finishReason: row[15],
        createdAtMs: row[6],
        completedAtMs: row[16]
      )
      return .turn(turn, studentId: row[3], curriculumId: row[4], lessonId: row[5])
    }
    let attempt = StoredAttempt(
      id: row[1],
      sessionId: row[2],
      studentId: row[3],
      curriculumId: row[4],
      lessonId: row[5],
      exerciseId: row[8],
      objectiveId: row[10],
      answer: row[9],
      correct: row[11],
      hintsRevealed: row[12],
      hintRevealed: row[13],
      createdAtMs: row[6]
    )
    let context = AttemptContext(
      number: row[7],
      of: row[14],
      startedAtMs: row[15],
      exerciseStartedAtMs: row[16]
    )
    return .attempt(attempt, context)
  }

  /// The stored JSON array of snippet ids. Ids written by the server are plain (no escapes), so
  /// they are split directly, a JSONDecoder being ~20 times slower per row; anything else goes
  /// through the decoder.
  static func decodeSnippetIds(_ json: String) -> [String] {
    if json == "[]" { return [] }
    let bytes = Array(json.utf8)
    guard bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]"),
      !bytes.contains(UInt8(ascii: "\\"))
    else { return (try? JSONDecoder().decode([String].self, from: Data(json.utf8))) ?? [] }
    var ids: [String] = []
    var start: Int?
    for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\"") {
      if let s = start {
        ids.append(String(decoding: bytes[s ..< i], as: UTF8.self))
        start = nil
      } else {
        start = i + 1
      }
    }
    return ids
  }
}
