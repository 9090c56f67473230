import Foundation

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

/// The export's one query, in SQL both engines run, and how its rows become records.
enum ExportQuery {
  /// Turns and attempts that `filter` selects, oldest first.
  ///
  /// Attempts are numbered and timed over their whole session, so `since` applies after the
  /// window functions (an export that starts mid-session still says "attempt 3" and times it
  /// from attempt 2); the other conditions select whole sessions, and `until` only cuts off what
  /// comes later, so they apply before.
  static func sql(_ filter: ExportFilter) -> (sql: String, arguments: [SQLValue]) {
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
    // Columns by position (decoding reads them by index, which keeps an export of a million
    // records fast): 0 kind, 1 id, 2 session, 3 student, 4 curriculum, 5 lesson, 6 created_at,
    // 7 turn index / attempt number, 8 question / exercise, 9 answer, 10 snippet ids / objective;
    // a turn's 11 prompt tokens, 12 completion tokens, 13 latency, 14 status, 15 finish reason,
    // 16 completed_at; an attempt's 17 correct, 18 hints before, 19 hint revealed, 20 attempts in
    // all, 21 started at, 22 exercise started at; 23 flags. Each kind's own columns are typed NULLs in the
    // other's rows, so that PostgreSQL's UNION finds one type per column.
    let sql = """
      SELECT 0, t.id, t.session_id, s.student_id, s.curriculum_id, s.lesson_id, t.created_at,
             CAST(t.idx AS BIGINT), t.question, t.answer, t.snippet_ids,
             t.prompt_tokens, t.completion_tokens, t.latency_ms, t.status, t.finish_reason, t.completed_at,
             CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
             CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), t.flags
      FROM turn t JOIN session s ON s.id = t.session_id
      \(turn.whereClause)
      UNION ALL
      SELECT 1, id, session_id, student_id, curriculum_id, lesson_id, created_at,
             number, exercise_id, answer, objective_id,
             CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS TEXT),
             CAST(NULL AS TEXT), CAST(NULL AS BIGINT),
             correct, hints_revealed, hint_revealed, total, started_at, exercise_started_at, flags
      FROM (
        SELECT numbered.*,
               ROW_NUMBER() OVER (PARTITION BY session_id, exercise_id ORDER BY created_at, id) AS number,
               COUNT(*) OVER (PARTITION BY session_id, exercise_id) AS total,
               MIN(started_at) OVER (PARTITION BY session_id, exercise_id) AS exercise_started_at
        FROM (
          SELECT a.*,
                 LAG(a.created_at, 1, s.created_at) OVER (PARTITION BY a.session_id ORDER BY a.created_at, a.id)
                   AS started_at
          FROM attempt a JOIN session s ON s.id = a.session_id
          \(attempt.whereClause)
        ) AS numbered
      ) AS timed
      \(attemptSince.whereClause)
      ORDER BY 7, 1, 2
      """
    return (sql, turn.arguments + attempt.arguments + attemptSince.arguments)
  }

  /// Runs the export on `reader`, handing each record to `body`.
  static func run<Reader: SQLReader>(
    _ filter: ExportFilter,
    on reader: Reader,
    _ body: (ExportRecord) throws -> Void
  ) throws {
    let (sql, arguments) = Self.sql(filter)
    try reader.forEachRow(sql, arguments) { row in try body(try record(row)) }
  }

  static func record(_ row: some SQLRow) throws -> ExportRecord {
    if try row.int(0) == 0 {
      let turn = StoredTurn(
        id: try row.string(1),
        sessionId: try row.string(2),
        index: try row.int(7),
        question: try row.string(8),
        answer: try row.string(9),
        snippetIds: Self.decodeSnippetIds(try row.string(10)),
        promptTokens: try row.int(11),
        completionTokens: try row.int(12),
        latencyMilliseconds: try row.optionalInt(13),
        status: StoredTurn.Status(rawValue: try row.string(14)) ?? .failed,
        finishReason: try row.text(15),
        createdAtMs: try row.int64(6),
        completedAtMs: try row.integer(16),
        flags: TurnFlag.decode(try row.string(23))
      )
      return .turn(
        turn,
        studentId: try row.string(3),
        curriculumId: try row.string(4),
        lessonId: try row.string(5)
      )
    }
    let attempt = StoredAttempt(
      id: try row.string(1),
      sessionId: try row.string(2),
      studentId: try row.string(3),
      curriculumId: try row.string(4),
      lessonId: try row.string(5),
      exerciseId: try row.string(8),
      objectiveId: try row.text(10),
      answer: try row.string(9),
      correct: try row.bool(17),
      hintsRevealed: try row.int(18),
      hintRevealed: try row.optionalInt(19),
      createdAtMs: try row.int64(6),
      flags: TurnFlag.decode(try row.string(23))
    )
    let context = AttemptContext(
      number: try row.int(7),
      of: try row.int(20),
      startedAtMs: try row.int64(21),
      exerciseStartedAtMs: try row.int64(22)
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
