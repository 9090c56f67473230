import Foundation
import GRDB

// Sessions: starting, reading, ending and paging them, and a student's whole activity.
extension SQLiteRecords {
  /// Starts a session, creating the student on first use.
  func startSession(
    studentId: String,
    curriculumId: String,
    lessonId: String,
    lessonChosen: Bool
  ) async throws -> StoredSession {
    try await write("startSession") { db in
      let now = self.now()
      try db.execute(
        sql: "INSERT OR IGNORE INTO student (id, created_at) VALUES (?, ?)",
        arguments: [studentId, now]
      )
      let session = StoredSession.started(
        studentId: studentId,
        curriculumId: curriculumId,
        lessonId: lessonId,
        lessonChosen: lessonChosen,
        at: now
      )
      try session.insert(db)
      return session
    }
  }

  func session(id: String) async throws -> StoredSession? {
    try await pool.read { db in try StoredSession.fetchOne(db, key: id) }
  }

  /// Ends a session; returns it, or nil when it does not exist.
  func endSession(id: String) async throws -> StoredSession? {
    try await write("endSession") { db in
      guard var session = try StoredSession.fetchOne(db, key: id) else { return nil }
      if session.state == .active {
        let now = self.now()
        session.state = .ended
        session.endedAtMs = now
        session.updatedAtMs = now
        try session.update(db)
      }
      return session
    }
  }

  /// One page of sessions of a student and/or a curriculum, newest first.
  /// - Parameter pageToken: the `nextPageToken` of the previous page, or nil for the first.
  /// - Throws: ``TutorStoreError/invalidPageToken`` for a token this store did not make.
  func listSessions(
    studentId: String?,
    curriculumId: String?,
    pageSize: Int,
    pageToken: String?
  ) async throws -> (sessions: [StoredSession], nextPageToken: String?) {
    let size = max(1, pageSize)
    let cursor = try pageToken.map(PageCursor.init(token:))
    return try await pool.read { db in
      var request = StoredSession.all()
      if let studentId { request = request.filter(StoredSession.Columns.studentId == studentId) }
      if let curriculumId { request = request.filter(StoredSession.Columns.curriculumId == curriculumId) }
      if let cursor {
        request = request.filter(
          StoredSession.Columns.createdAtMs < cursor.createdAtMs
            || (StoredSession.Columns.createdAtMs == cursor.createdAtMs
              && StoredSession.Columns.id < cursor.id)
        )
      }
      let rows = try request.order(StoredSession.Columns.createdAtMs.desc, StoredSession.Columns.id.desc)
        .limit(size + 1).fetchAll(db)
      let page = Array(rows.prefix(size))
      let next =
        rows.count > size ? page.last.map { PageCursor(createdAtMs: $0.createdAtMs, id: $0.id).token } : nil
      return (page, next)
    }
  }

  /// How many turns each of `sessionIds` has (sessions without turns are absent).
  func turnCounts(sessionIds: [String]) async throws -> [String: Int] {
    try await pool.read { db in
      var counts: [String: Int] = [:]
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT session_id, COUNT(*) FROM turn
          WHERE session_id IN (\(databaseQuestionMarks(count: sessionIds.count))) GROUP BY session_id
          """,
        arguments: StatementArguments(sessionIds)
      )
      for row in rows { counts[row[0]] = row[1] }
      return counts
    }
  }

  func activity(studentId: String, curriculumId: String?) async throws -> LearningRecordStore.StudentActivity
  {
    try await pool.read { db in
      var sessions = StoredSession.filter(StoredSession.Columns.studentId == studentId)
      var attempts = StoredAttempt.filter(StoredAttempt.Columns.studentId == studentId)
      var mastery = StoredMastery.filter(StoredMastery.Columns.studentId == studentId)
      if let curriculumId {
        sessions = sessions.filter(StoredSession.Columns.curriculumId == curriculumId)
        attempts = attempts.filter(StoredAttempt.Columns.curriculumId == curriculumId)
        mastery = mastery.filter(StoredMastery.Columns.curriculumId == curriculumId)
      }
      let found = try sessions.order(StoredSession.Columns.createdAtMs, StoredSession.Columns.id).fetchAll(db)
      let turns = try StoredTurn.filter(found.map(\.id).contains(StoredTurn.Columns.sessionId))
        .order(StoredTurn.Columns.sessionId, StoredTurn.Columns.index).fetchAll(db)
      return LearningRecordStore.StudentActivity(
        sessions: found,
        turns: turns,
        attempts: try attempts.order(StoredAttempt.Columns.createdAtMs).fetchAll(db),
        mastery: try mastery.order(StoredMastery.Columns.curriculumId, StoredMastery.Columns.objectiveId)
          .fetchAll(db)
      )
    }
  }
}
