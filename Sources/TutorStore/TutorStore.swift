import Foundation
import GRDB
import Metrics

/// The learning record: students, sessions, turns, attempts and mastery, in one SQLite database
/// (WAL mode, versioned migrations).
///
/// Every write is a transaction that is durable when the call returns, so a server can
/// acknowledge what it stored. A turn's question is stored before its answer is generated; turns
/// still `answering` when the process died are marked `interrupted` by
/// ``markInterruptedTurns()`` at the next start.
///
/// ```swift
/// let store = try TutorStore(path: "data/tutor.sqlite")
/// let interrupted = try await store.markInterruptedTurns()
/// let session = try await store.startSession(studentId: "s-17", curriculumId: "fractions-ratios", lessonId: "ratios")
/// var turn = try await store.beginTurn(sessionId: session.id, question: "What is a ratio?", snippetIds: [], promptTokens: 120)
/// ```
public final class TutorStore: Sendable {
  let pool: DatabasePool

  /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
  public init(path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    var configuration = Configuration()
    configuration.label = "tutor-store"
    configuration.busyMode = .timeout(10)
    // FULL synchronous in WAL mode: a committed transaction survives power loss, not only a crash.
    configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    do {
      pool = try DatabasePool(path: path, configuration: configuration)
      try Self.migrator.migrate(pool)
    } catch let error as DatabaseError {
      throw TutorStoreError.cannotOpen(path: path, reason: error.message ?? "\(error.resultCode)")
    }
  }

  /// A write transaction, timed as `tutor_db_write_seconds{operation}` (swift-metrics; free
  /// unless the process bootstrapped a metrics backend).
  func write<T: Sendable>(
    _ operation: String,
    _ body: @escaping @Sendable (Database) throws -> T
  ) async throws -> T {
    let start = ContinuousClock.now
    defer {
      let elapsed = ContinuousClock.now - start
      Metrics.Timer(label: "tutor_db_write_seconds", dimensions: [("operation", operation)]).record(
        duration: elapsed
      )
    }
    do {
      return try await pool.write(body)
    } catch let error as DatabaseError
      where [.SQLITE_FULL, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN].contains(error.resultCode)
    {
      // The transaction rolled back: nothing of this write is stored, and the caller says so.
      throw TutorStoreError.storageUnavailable(error.message ?? "\(error.resultCode)")
    }
  }

  /// Sets the `tutor_active_sessions` gauge from the database (an index count).
  public func reportActiveSessions() async {
    let count = try? await pool.read { db in
      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM session WHERE state = 'active'") ?? 0
    }
    if let count { Gauge(label: "tutor_active_sessions").record(count) }
  }

  /// The current time in the store's unit (milliseconds since 1970).
  static func now() -> Int64 { Date().millisecondsSince1970 }

  /// Checkpoints the write-ahead log into the database file and closes every connection: the
  /// file alone then holds everything. Call once, when nothing else uses the store.
  public func close() throws {
    _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    try pool.close()
  }

  /// `PRAGMA integrity_check`: "ok" for a sound database.
  public func integrityCheck() throws -> String {
    try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
  }

  // MARK: Sessions

  /// Starts a session, creating the student on first use.
  public func startSession(
    studentId: String,
    curriculumId: String,
    lessonId: String,
    lessonChosen: Bool = true
  ) async throws -> StoredSession {
    let session = try await write("startSession") { db in
      let now = Self.now()
      try db.execute(
        sql: "INSERT OR IGNORE INTO student (id, created_at) VALUES (?, ?)",
        arguments: [studentId, now]
      )
      let session = StoredSession(
        id: UUID().uuidString.lowercased(),
        studentId: studentId,
        curriculumId: curriculumId,
        lessonId: lessonId,
        lessonChosen: lessonChosen,
        state: .active,
        createdAtMs: now,
        updatedAtMs: now,
        endedAtMs: nil
      )
      try session.insert(db)
      return session
    }
    await reportActiveSessions()
    return session
  }

  public func session(id: String) async throws -> StoredSession? {
    try await pool.read { db in try StoredSession.fetchOne(db, key: id) }
  }

  /// A session's turns, oldest first.
  public func turns(sessionId: String) async throws -> [StoredTurn] {
    try await pool.read { db in
      try StoredTurn.filter(Column("session_id") == sessionId).order(Column("idx")).fetchAll(db)
    }
  }

  /// Ends a session; returns it, or nil when it does not exist.
  public func endSession(id: String) async throws -> StoredSession? {
    let session: StoredSession? = try await write("endSession") { db in
      guard var session = try StoredSession.fetchOne(db, key: id) else { return nil }
      if session.state == .active {
        let now = Self.now()
        session.state = .ended
        session.endedAtMs = now
        session.updatedAtMs = now
        try session.update(db)
      }
      return session
    }
    await reportActiveSessions()
    return session
  }

  /// One page of sessions of a student and/or a curriculum, newest first.
  /// - Parameter pageToken: the `nextPageToken` of the previous page, or nil for the first.
  /// - Throws: ``TutorStoreError/invalidPageToken`` for a token this store did not make.
  public func listSessions(
    studentId: String?,
    curriculumId: String?,
    pageSize: Int,
    pageToken: String?
  ) async throws -> (sessions: [StoredSession], nextPageToken: String?) {
    let size = max(1, pageSize)
    let cursor = try pageToken.map(PageCursor.init(token:))
    return try await pool.read { db in
      var request = StoredSession.all()
      if let studentId { request = request.filter(Column("student_id") == studentId) }
      if let curriculumId { request = request.filter(Column("curriculum_id") == curriculumId) }
      if let cursor {
        request = request.filter(
          Column("created_at") < cursor.createdAtMs
            || (Column("created_at") == cursor.createdAtMs && Column("id") < cursor.id)
        )
      }
      let rows = try request.order(Column("created_at").desc, Column("id").desc).limit(size + 1).fetchAll(db)
      let page = Array(rows.prefix(size))
      let next =
        rows.count > size ? page.last.map { PageCursor(createdAtMs: $0.createdAtMs, id: $0.id).token } : nil
      return (page, next)
    }
  }

  /// How many turns each of `sessionIds` has (sessions without turns are absent).
  public func turnCounts(sessionIds: [String]) async throws -> [String: Int] {
    guard !sessionIds.isEmpty else { return [:] }
    return try await pool.read { db in
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

  /// Everything recorded about a student's learning, optionally in one curriculum: sessions
  /// (oldest first), their turns and the student's attempts.
  public struct StudentActivity: Sendable {
    public var sessions: [StoredSession]
    public var turns: [StoredTurn]
    public var attempts: [StoredAttempt]
    public var mastery: [StoredMastery]
  }

  public func activity(studentId: String, curriculumId: String? = nil) async throws -> StudentActivity {
    try await pool.read { db in
      var sessions = StoredSession.filter(Column("student_id") == studentId)
      var attempts = StoredAttempt.filter(Column("student_id") == studentId)
      var mastery = StoredMastery.filter(Column("student_id") == studentId)
      if let curriculumId {
        sessions = sessions.filter(Column("curriculum_id") == curriculumId)
        attempts = attempts.filter(Column("curriculum_id") == curriculumId)
        mastery = mastery.filter(Column("curriculum_id") == curriculumId)
      }
      let found = try sessions.order(Column("created_at"), Column("id")).fetchAll(db)
      let turns = try StoredTurn.filter(found.map(\.id).contains(Column("session_id")))
        .order(Column("session_id"), Column("idx")).fetchAll(db)
      return StudentActivity(
        sessions: found,
        turns: turns,
        attempts: try attempts.order(Column("created_at")).fetchAll(db),
        mastery: try mastery.order(Column("curriculum_id"), Column("objective_id")).fetchAll(db)
      )
    }
  }

  // MARK: Turns

  /// Stores a question before its answer is generated (status `answering`).
  /// - Throws: ``TutorStoreError/sessionNotFound(_:)`` or ``TutorStoreError/sessionEnded(_:)``.
  public func beginTurn(
    sessionId: String,
    question: String,
    snippetIds: [String],
    promptTokens: Int
  ) async throws -> StoredTurn {
    try await write("beginTurn") { db in
      guard var session = try StoredSession.fetchOne(db, key: sessionId) else {
        throw TutorStoreError.sessionNotFound(sessionId)
      }
      guard session.state == .active else { throw TutorStoreError.sessionEnded(sessionId) }
      let index =
        try Int.fetchOne(
          db,
          sql: "SELECT COALESCE(MAX(idx) + 1, 0) FROM turn WHERE session_id = ?",
          arguments: [sessionId]
        )
        ?? 0
      let now = Self.now()
      let turn = StoredTurn(
        id: UUID().uuidString.lowercased(),
        sessionId: sessionId,
        index: index,
        question: question,
        answer: "",
        snippetIds: snippetIds,
        promptTokens: promptTokens,
        completionTokens: 0,
        latencyMilliseconds: nil,
        status: .answering,
        finishReason: nil,
        createdAtMs: now,
        completedAtMs: nil
      )
      try turn.insert(db)
      session.updatedAtMs = now
      try session.update(db)
      return turn
    }
  }

  /// Stores the end of a turn: its answer (complete or partial), usage and how it ended.
  @discardableResult
  public func finishTurn(
    id: String,
    answer: String,
    completionTokens: Int,
    latencyMilliseconds: Int,
    status: StoredTurn.Status,
    finishReason: String?
  ) async throws -> StoredTurn {
    try await write("finishTurn") { db in
      guard var turn = try StoredTurn.fetchOne(db, key: id) else { throw TutorStoreError.turnNotFound(id) }
      turn.answer = answer
      turn.completionTokens = completionTokens
      turn.latencyMilliseconds = latencyMilliseconds
      turn.status = status
      turn.finishReason = finishReason
      turn.completedAtMs = Self.now()
      try turn.update(db)
      return turn
    }
  }

  /// Marks turns left `answering` by a previous process as `interrupted`; returns how many.
  /// Call once at start-up, before serving.
  public func markInterruptedTurns() async throws -> Int {
    try await write("markInterruptedTurns") { db in
      try db.execute(
        sql: "UPDATE turn SET status = 'interrupted', completed_at = ? WHERE status = 'answering'",
        arguments: [Self.now()]
      )
      return db.changesCount
    }
  }

  // MARK: Attempts and mastery

  /// Stores a graded attempt and, when given, the objective's new mastery (current value and
  /// history) in one transaction.
  public func recordAttempt(_ attempt: StoredAttempt, mastery: Double? = nil) async throws {
    _ = try await recordAttempt(attempt) { _ in mastery }
  }

  /// Stores a graded attempt and updates the mastery of its objective from the stored estimate
  /// (nil before the first attempt) in the same transaction, so concurrent attempts never lose
  /// an update. Returns the new estimate (nil when the attempt has no objective or `update`
  /// returns nil).
  public func recordAttempt(
    _ attempt: StoredAttempt,
    updateMastery update: @escaping @Sendable (Double?) -> Double?
  ) async throws -> Double? {
    try await write("recordAttempt") { db in
      try attempt.insert(db)
      guard let objective = attempt.objectiveId else { return nil }
      let previous = try StoredMastery.fetchOne(
        db,
        key: [
          "student_id": attempt.studentId, "curriculum_id": attempt.curriculumId, "objective_id": objective,
        ]
      )
      guard let mastery = update(previous?.probability) else { return nil }
      try StoredMastery(
        studentId: attempt.studentId,
        curriculumId: attempt.curriculumId,
        objectiveId: objective,
        probability: mastery,
        updatedAtMs: attempt.createdAtMs
      ).save(db)
      try db.execute(
        sql: """
          INSERT INTO mastery_history (student_id, curriculum_id, objective_id, probability, attempt_id, created_at)
          VALUES (?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          attempt.studentId, attempt.curriculumId, objective, mastery, attempt.id, attempt.createdAtMs,
        ]
      )
      return mastery
    }
  }

  /// Attempts at one exercise in a session so far: all of them and the wrong ones.
  public func attemptCounts(sessionId: String, exerciseId: String) async throws -> (total: Int, wrong: Int) {
    try await pool.read { db in
      let row = try Row.fetchOne(
        db,
        sql:
          "SELECT COUNT(*), COALESCE(SUM(NOT correct), 0) FROM attempt WHERE session_id = ? AND exercise_id = ?",
        arguments: [sessionId, exerciseId]
      )
      return (row?[0] ?? 0, row?[1] ?? 0)
    }
  }

  /// A student's mastery estimates, optionally in one curriculum.
  public func mastery(studentId: String, curriculumId: String? = nil) async throws -> [StoredMastery] {
    try await pool.read { db in
      var request = StoredMastery.filter(Column("student_id") == studentId)
      if let curriculumId { request = request.filter(Column("curriculum_id") == curriculumId) }
      return try request.order(Column("curriculum_id"), Column("objective_id")).fetchAll(db)
    }
  }

  // MARK: Privacy

  /// What ``deleteStudentData(studentId:)`` removed.
  public struct DeletionReport: Sendable, Equatable {
    /// Whether the student was known at all (had a session or a token).
    public var found = false
    public var sessions = 0
    public var turns = 0
    public var attempts = 0
    public var masteryRecords = 0
    /// The student's access tokens, deleted with the rest.
    public var tokens = 0
  }

  /// Removes a student and everything recorded about them, in one transaction.
  public func deleteStudentData(studentId: String) async throws -> DeletionReport {
    try await write("deleteStudentData") { db in
      func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql, arguments: [studentId]) ?? 0 }
      var report = DeletionReport(
        sessions: try count("SELECT COUNT(*) FROM session WHERE student_id = ?"),
        turns: try count(
          "SELECT COUNT(*) FROM turn JOIN session ON session.id = turn.session_id WHERE student_id = ?"
        ),
        attempts: try count("SELECT COUNT(*) FROM attempt WHERE student_id = ?"),
        masteryRecords: try count("SELECT COUNT(*) FROM mastery WHERE student_id = ?")
          + count("SELECT COUNT(*) FROM mastery_history WHERE student_id = ?"),
        tokens: try count("SELECT COUNT(*) FROM access_token WHERE student_id = ?")
      )
      let studentRows = try count("SELECT COUNT(*) FROM student WHERE id = ?")
      report.found = report.tokens > 0 || studentRows > 0
      // Foreign keys cascade from the student to everything else; tokens have no foreign key.
      try db.execute(sql: "DELETE FROM student WHERE id = ?", arguments: [studentId])
      try db.execute(sql: "DELETE FROM access_token WHERE student_id = ?", arguments: [studentId])
      return report
    }
  }
}

/// Errors a caller maps to a status (NOT_FOUND, FAILED_PRECONDITION, INVALID_ARGUMENT).
public enum TutorStoreError: Error, Equatable, Sendable, CustomStringConvertible {
  case sessionNotFound(String)
  case sessionEnded(String)
  case turnNotFound(String)
  case invalidPageToken
  /// The database file cannot be opened or is not a tutor database.
  case cannotOpen(path: String, reason: String)
  /// Writes fail for a reason outside the request (disk full, read-only file, I/O error); the
  /// failed write left nothing behind.
  case storageUnavailable(String)

  public var description: String {
    switch self {
    case .sessionNotFound(let id): return "no session '\(id)'"
    case .sessionEnded(let id): return "session '\(id)' has ended"
    case .turnNotFound(let id): return "no turn '\(id)'"
    case .invalidPageToken: return "page_token is not one this server issued"
    case .cannotOpen(let path, let reason): return "\(path): cannot open the database: \(reason)"
    case .storageUnavailable(let reason):
      return
        "the database cannot store anything now (\(reason)); nothing of this request was saved, retry later"
    }
  }
}

/// Keyset paging position: the last session of a page, as an opaque token.
struct PageCursor {
  var createdAtMs: Int64
  var id: String

  init(createdAtMs: Int64, id: String) {
    self.createdAtMs = createdAtMs
    self.id = id
  }

  init(token: String) throws {
    guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8) else {
      throw TutorStoreError.invalidPageToken
    }
    let parts = text.split(separator: "|", maxSplits: 1)
    guard parts.count == 2, let ms = Int64(parts[0]) else { throw TutorStoreError.invalidPageToken }
    createdAtMs = ms
    id = String(parts[1])
  }

  var token: String { Data("\(createdAtMs)|\(id)".utf8).base64EncodedString() }
}
