import Foundation

/// Which flagged turns a listing covers. Every condition is optional; times compare with the
/// turn's creation (`since` inclusive, `until` exclusive).
public struct FlagFilter: Sendable, Equatable {
  public var since: Date?
  public var until: Date?
  /// Sessions of these curricula only (a teacher's); nil: every curriculum.
  public var curriculumIds: [String]?
  public var studentId: String?
  /// Turns with at least one flag this severe: `low`, `medium` or `high`.
  public var minimumSeverity: String?
  public var pageSize: Int
  /// From the previous page's ``FlaggedTurnsPage/nextPageToken``.
  public var pageToken: String?

  public init(
    since: Date? = nil,
    until: Date? = nil,
    curriculumIds: [String]? = nil,
    studentId: String? = nil,
    minimumSeverity: String? = nil,
    pageSize: Int = 100,
    pageToken: String? = nil
  ) {
    self.since = since
    self.until = until
    self.curriculumIds = curriculumIds
    self.studentId = studentId
    self.minimumSeverity = minimumSeverity
    self.pageSize = pageSize
    self.pageToken = pageToken
  }

  /// Severities from the least: what `minimumSeverity` accepts.
  public static let severities = ["low", "medium", "high"]
}

/// A turn screening flagged, with its session's student, curriculum and lesson; or an exercise
/// answer it flagged (``exerciseId`` set: `turn` then holds the attempt's id, the response as its
/// question, and its time).
public struct FlaggedTurn: Sendable, Equatable {
  public var turn: StoredTurn
  public var studentId: String
  public var curriculumId: String
  public var lessonId: String
  /// The exercise, when the flagged message was an answer to it.
  public var exerciseId: String? = nil
}

public struct FlaggedTurnsPage: Sendable, Equatable {
  public var turns: [FlaggedTurn]
  /// Nil on the last page.
  public var nextPageToken: String?
}

/// The flag listing and the retention purge, in SQL both engines run.
enum FlagQuery {
  /// Flagged turns and flagged exercise answers, newest first: one UNION, each side with the
  /// filter's conditions on its own columns.
  static func sql(_ filter: FlagFilter) throws -> (sql: String, arguments: [SQLValue]) {
    var page: (created: Int64, id: String)?
    if let token = filter.pageToken {
      let parts = token.split(separator: ":", maxSplits: 1)
      guard parts.count == 2, let created = Int64(parts[0]) else {
        throw TutorStoreError.invalidPageToken
      }
      page = (created, String(parts[1]))
    }
    func conditions(_ record: String, session: String) -> Conditions {
      var conditions = Conditions()
      conditions.add("\(record).flags <> '[]'")
      if let since = filter.since?.millisecondsSince1970 {
        conditions.add("\(record).created_at >= ?", since)
      }
      if let until = filter.until?.millisecondsSince1970 { conditions.add("\(record).created_at < ?", until) }
      if let curricula = filter.curriculumIds { conditions.add("\(session).curriculum_id", in: curricula) }
      if let student = filter.studentId { conditions.add("\(session).student_id = ?", student) }
      if let minimum = filter.minimumSeverity {
        // Callers check the name (an unknown one selects nothing). The column's JSON is written
        // with sorted keys and no spaces, by either engine.
        let rank = FlagFilter.severities.firstIndex(of: minimum) ?? FlagFilter.severities.count
        let severe = FlagFilter.severities[rank...].map { "\(record).flags LIKE '%\"severity\":\"\($0)\"%'" }
        conditions.add(severe.isEmpty ? "1 = 0" : "(" + severe.joined(separator: " OR ") + ")")
      }
      if let page {
        conditions.add(
          "(\(record).created_at < ? OR (\(record).created_at = ? AND \(record).id < ?))",
          [.integer(page.created), .integer(page.created), .text(page.id)]
        )
      }
      return conditions
    }
    let turns = conditions("t", session: "s")
    let attempts = conditions("a", session: "a")
    let sql = """
      SELECT t.id, t.session_id, s.student_id, s.curriculum_id, s.lesson_id, CAST(t.idx AS BIGINT), t.question,
             t.answer, t.status, t.finish_reason, t.created_at, t.completed_at, t.flags, CAST(NULL AS TEXT)
      FROM turn t JOIN session s ON s.id = t.session_id
      \(turns.whereClause)
      UNION ALL
      SELECT a.id, a.session_id, a.student_id, a.curriculum_id, a.lesson_id, CAST(-1 AS BIGINT), a.answer,
             '', 'completed', CAST(NULL AS TEXT), a.created_at, a.created_at, a.flags, a.exercise_id
      FROM attempt a
      \(attempts.whereClause)
      ORDER BY 11 DESC, 1 DESC
      LIMIT ?
      """
    return (sql, turns.arguments + attempts.arguments + [.integer(Int64(filter.pageSize) + 1)])
  }

  static func page(_ rows: [some SQLRow], pageSize: Int) throws -> FlaggedTurnsPage {
    var turns: [FlaggedTurn] = []
    for row in rows.prefix(pageSize) {
      let turn = StoredTurn(
        id: try row.string(0),
        sessionId: try row.string(1),
        index: try row.int(5),
        question: try row.string(6),
        answer: try row.string(7),
        snippetIds: [],
        promptTokens: 0,
        completionTokens: 0,
        latencyMilliseconds: nil,
        status: StoredTurn.Status(rawValue: try row.string(8)) ?? .failed,
        finishReason: try row.text(9),
        createdAtMs: try row.int64(10),
        completedAtMs: try row.integer(11),
        flags: TurnFlag.decode(try row.string(12))
      )
      turns.append(
        FlaggedTurn(
          turn: turn,
          studentId: try row.string(2),
          curriculumId: try row.string(3),
          lessonId: try row.string(4),
          exerciseId: try row.text(13)
        )
      )
    }
    let next = rows.count > pageSize ? turns.last.map { "\($0.turn.createdAtMs):\($0.turn.id)" } : nil
    return FlaggedTurnsPage(turns: turns, nextPageToken: next)
  }

  /// Clears what a student wrote and what the tutor answered, keeping every row (counts,
  /// times, mastery and flags' categories stay for statistics).
  static let purgeTurns =
    "UPDATE turn SET question = '', answer = '' WHERE created_at < ? AND (question <> '' OR answer <> '')"
  static let purgeAttempts = "UPDATE attempt SET answer = '' WHERE created_at < ? AND answer <> ''"
}
