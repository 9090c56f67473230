import Foundation
import PostgresNIO

// The store's operations in PostgreSQL: each one statement or one transaction. What SQLite gets
// from its single writer, PostgreSQL gets from row locks (a session's turns), an advisory lock
// (an objective's mastery) and unique indexes (one answering turn per session).
extension PostgresRecords {
  static let sessionColumns =
    "id, student_id, curriculum_id, lesson_id, lesson_chosen, state, created_at, updated_at, ended_at"
  static let turnColumns = """
    id, session_id, idx, question, answer, snippet_ids, prompt_tokens, completion_tokens, latency_ms, status,
    finish_reason, created_at, completed_at, flags
    """
  static let attemptColumns = """
    id, session_id, student_id, curriculum_id, lesson_id, exercise_id, objective_id, answer, correct,
    hints_revealed, hint_revealed, created_at, flags
    """
  static let masteryColumns = "student_id, curriculum_id, objective_id, probability, updated_at"
  static let tokenColumns = "id, secret_sha256, role, student_id, curricula, label, created_at, revoked_at"

  static func session(_ row: PostgresRow) throws -> StoredSession {
    let (id, student, curriculum, lesson, chosen, state, created, updated, ended) = try row.decode(
      (String, String, String, String, Bool, String, Int64, Int64, Int64?).self
    )
    return StoredSession(
      id: id,
      studentId: student,
      curriculumId: curriculum,
      lessonId: lesson,
      lessonChosen: chosen,
      state: StoredSession.State(rawValue: state) ?? .ended,
      createdAtMs: created,
      updatedAtMs: updated,
      endedAtMs: ended
    )
  }

  static func turn(_ row: PostgresRow) throws -> StoredTurn {
    let (
      id, session, index, question, answer, snippets, promptTokens, completionTokens, latency, status, reason,
      created, completed, flags
    ) = try row.decode(
      (String, String, Int, String, String, String, Int, Int, Int?, String, String?, Int64, Int64?, String)
        .self
    )
    return StoredTurn(
      id: id,
      sessionId: session,
      index: index,
      question: question,
      answer: answer,
      snippetIds: ExportQuery.decodeSnippetIds(snippets),
      promptTokens: promptTokens,
      completionTokens: completionTokens,
      latencyMilliseconds: latency,
      status: StoredTurn.Status(rawValue: status) ?? .failed,
      finishReason: reason,
      createdAtMs: created,
      completedAtMs: completed,
      flags: TurnFlag.decode(flags)
    )
  }

  static func attempt(_ row: PostgresRow) throws -> StoredAttempt {
    let (
      id, session, student, curriculum, lesson, exercise, objective, answer, correct, hints, hint, created,
      flags
    ) =
      try row.decode(
        (String, String, String, String, String, String, String?, String, Int, Int, Int?, Int64, String).self
      )
    return StoredAttempt(
      id: id,
      sessionId: session,
      studentId: student,
      curriculumId: curriculum,
      lessonId: lesson,
      exerciseId: exercise,
      objectiveId: objective,
      answer: answer,
      correct: correct != 0,
      hintsRevealed: hints,
      hintRevealed: hint,
      createdAtMs: created,
      flags: TurnFlag.decode(flags)
    )
  }

  static func mastery(_ row: PostgresRow) throws -> StoredMastery {
    let (student, curriculum, objective, probability, updated) = try row.decode(
      (String, String, String, Double, Int64).self
    )
    return StoredMastery(
      studentId: student,
      curriculumId: curriculum,
      objectiveId: objective,
      probability: probability,
      updatedAtMs: updated
    )
  }

  static func token(_ row: PostgresRow) throws -> StoredToken {
    let (id, secret, role, student, curricula, label, created, revoked) = try row.decode(
      (String, Data, String, String?, String, String, Int64, Int64?).self
    )
    return StoredToken(
      id: id,
      secretSHA256: secret,
      role: role,
      studentId: student,
      curricula: (try? JSONDecoder().decode([String].self, from: Data(curricula.utf8))) ?? [],
      label: label,
      createdAtMs: created,
      revokedAtMs: revoked
    )
  }

  static func json(_ strings: [String]) -> String {
    String(decoding: (try? JSONEncoder().encode(strings)) ?? Data("[]".utf8), as: UTF8.self)
  }

  func insert(_ session: StoredSession, on connection: PostgresConnection) async throws {
    try await connection.query(
      """
      INSERT INTO session (\(unescaped: Self.sessionColumns))
      VALUES (\(session.id), \(session.studentId), \(session.curriculumId), \(session.lessonId),
              \(session.lessonChosen), \(session.state.rawValue), \(session.createdAtMs), \(session.updatedAtMs),
              \(session.endedAtMs))
      """,
      logger: logger
    )
  }

  func insert(_ turn: StoredTurn, replicaId: String?, on connection: PostgresConnection) async throws {
    try await connection.query(
      """
      INSERT INTO turn (\(unescaped: Self.turnColumns), replica_id)
      VALUES (\(turn.id), \(turn.sessionId), \(Int64(turn.index)), \(turn.question), \(turn.answer),
              \(Self.json(turn.snippetIds)), \(Int64(turn.promptTokens)), \(Int64(turn.completionTokens)),
              \(turn.latencyMilliseconds.map(Int64.init)), \(turn.status.rawValue), \(turn.finishReason),
              \(turn.createdAtMs), \(turn.completedAtMs), \(TurnFlag.json(turn.flags)), \(replicaId))
      """,
      logger: logger
    )
  }

  func insert(_ attempt: StoredAttempt, on connection: PostgresConnection) async throws {
    try await connection.query(
      """
      INSERT INTO attempt (\(unescaped: Self.attemptColumns))
      VALUES (\(attempt.id), \(attempt.sessionId), \(attempt.studentId), \(attempt.curriculumId),
              \(attempt.lessonId), \(attempt.exerciseId), \(attempt.objectiveId), \(attempt.answer),
              \(Int32(attempt.correct ? 1 : 0)), \(Int64(attempt.hintsRevealed)),
              \(attempt.hintRevealed.map(Int64.init)), \(attempt.createdAtMs), \(TurnFlag.json(attempt.flags)))
      """,
      logger: logger
    )
  }

  func insertStudent(_ id: String, createdAtMs: Int64, on connection: PostgresConnection) async throws {
    try await connection.query(
      "INSERT INTO student (id, created_at) VALUES (\(id), \(createdAtMs)) ON CONFLICT (id) DO NOTHING",
      logger: logger
    )
  }

  // MARK: Sessions

  func startSession(
    studentId: String,
    curriculumId: String,
    lessonId: String,
    lessonChosen: Bool
  ) async throws -> StoredSession {
    try await transaction("startSession") { connection in
      let now = self.now()
      try await insertStudent(studentId, createdAtMs: now, on: connection)
      let session = StoredSession.started(
        studentId: studentId,
        curriculumId: curriculumId,
        lessonId: lessonId,
        lessonChosen: lessonChosen,
        at: now
      )
      try await insert(session, on: connection)
      return session
    }
  }

  func session(id: String) async throws -> StoredSession? {
    try await rows("SELECT \(unescaped: Self.sessionColumns) FROM session WHERE id = \(id)").first.map(
      Self.session
    )
  }

  func endSession(id: String) async throws -> StoredSession? {
    let now = self.now()
    // Ends an active session; an ended one is returned as it is.
    let ended = try await rows(
      """
      UPDATE session SET state = 'ended', ended_at = \(now), updated_at = \(now)
      WHERE id = \(id) AND state = 'active' RETURNING \(unescaped: Self.sessionColumns)
      """
    )
    if let row = ended.first { return try Self.session(row) }
    return try await session(id: id)
  }

  func listSessions(
    studentId: String?,
    curriculumId: String?,
    pageSize: Int,
    pageToken: String?
  ) async throws -> (sessions: [StoredSession], nextPageToken: String?) {
    let size = max(1, pageSize)
    let cursor = try pageToken.map(PageCursor.init(token:))
    var conditions = Conditions()
    if let studentId { conditions.add("student_id = ?", studentId) }
    if let curriculumId { conditions.add("curriculum_id = ?", curriculumId) }
    var sql = "SELECT \(Self.sessionColumns) FROM session \(conditions.whereClause)"
    var arguments = conditions.arguments
    if let cursor {
      sql += conditions.arguments.isEmpty ? " WHERE " : " AND "
      sql += "(created_at < ? OR (created_at = ? AND id < ?))"
      arguments += [.integer(cursor.createdAtMs), .integer(cursor.createdAtMs), .text(cursor.id)]
    }
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    arguments.append(.integer(Int64(size + 1)))
    let rows = try await rows(try Self.query(sql, arguments)).map(Self.session)
    let page = Array(rows.prefix(size))
    let next =
      rows.count > size ? page.last.map { PageCursor(createdAtMs: $0.createdAtMs, id: $0.id).token } : nil
    return (page, next)
  }

  func turnCounts(sessionIds: [String]) async throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for row in try await rows(
      "SELECT session_id, COUNT(*) FROM turn WHERE session_id = ANY(\(sessionIds)) GROUP BY session_id"
    ) {
      let (id, count) = try row.decode((String, Int).self)
      counts[id] = count
    }
    return counts
  }

  func activity(studentId: String, curriculumId: String?) async throws -> LearningRecordStore.StudentActivity
  {
    // One snapshot, like SQLite's read transaction.
    try await transaction("activity") { connection in
      try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
      func all<T>(_ query: PostgresQuery, _ decode: (PostgresRow) throws -> T) async throws -> [T] {
        try await connection.query(query, logger: logger).collect().map(decode)
      }
      let sessions = try await all(
        """
        SELECT \(unescaped: Self.sessionColumns) FROM session
        WHERE student_id = \(studentId) AND (\(curriculumId)::TEXT IS NULL OR curriculum_id = \(curriculumId))
        ORDER BY created_at, id
        """,
        Self.session
      )
      let turns = try await all(
        """
        SELECT \(unescaped: Self.turnColumns) FROM turn WHERE session_id = ANY(\(sessions.map(\.id)))
        ORDER BY session_id, idx
        """,
        Self.turn
      )
      let attempts = try await all(
        """
        SELECT \(unescaped: Self.attemptColumns) FROM attempt
        WHERE student_id = \(studentId) AND (\(curriculumId)::TEXT IS NULL OR curriculum_id = \(curriculumId))
        ORDER BY created_at
        """,
        Self.attempt
      )
      let mastery = try await all(
        """
        SELECT \(unescaped: Self.masteryColumns) FROM mastery
        WHERE student_id = \(studentId) AND (\(curriculumId)::TEXT IS NULL OR curriculum_id = \(curriculumId))
        ORDER BY curriculum_id, objective_id
        """,
        Self.mastery
      )
      return LearningRecordStore.StudentActivity(
        sessions: sessions,
        turns: turns,
        attempts: attempts,
        mastery: mastery
      )
    }
  }

  func activeSessionCount() async throws -> Int {
    try await rows("SELECT COUNT(*) FROM session WHERE state = 'active'").first?.decode(Int.self) ?? 0
  }

  // MARK: Turns

  func turns(sessionId: String) async throws -> [StoredTurn] {
    try await rows(
      "SELECT \(unescaped: Self.turnColumns) FROM turn WHERE session_id = \(sessionId) ORDER BY idx"
    )
    .map(Self.turn)
  }

  func beginTurn(
    sessionId: String,
    question: String,
    snippetIds: [String],
    promptTokens: Int,
    flags: [TurnFlag],
    replicaId: String
  ) async throws -> StoredTurn {
    try await transaction("beginTurn") { connection in
      // The session's row lock orders concurrent questions to it, from any replica.
      guard
        let state = try await connection.query(
          "SELECT state FROM session WHERE id = \(sessionId) FOR UPDATE",
          logger: logger
        ).collect().first?.decode(String.self)
      else { throw TutorStoreError.sessionNotFound(sessionId) }
      guard state == StoredSession.State.active.rawValue else {
        throw TutorStoreError.sessionEnded(sessionId)
      }
      let index =
        try await connection.query(
          "SELECT COALESCE(MAX(idx) + 1, 0) FROM turn WHERE session_id = \(sessionId)",
          logger: logger
        ).collect().first?.decode(Int.self) ?? 0
      let now = self.now()
      let turn = StoredTurn.asked(
        question,
        sessionId: sessionId,
        index: index,
        snippetIds: snippetIds,
        promptTokens: promptTokens,
        flags: flags,
        at: now
      )
      do {
        try await insert(turn, replicaId: replicaId, on: connection)
      } catch let error where Self.sqlState(error) == "23505" {
        // The unique index on a session's `answering` turn: a question is being answered.
        throw TutorStoreError.sessionBusy(sessionId)
      }
      try await connection.query(
        "UPDATE session SET updated_at = \(now) WHERE id = \(sessionId)",
        logger: logger
      )
      return turn
    }
  }

  func finishTurn(
    id: String,
    answer: String,
    completionTokens: Int,
    latencyMilliseconds: Int,
    status: StoredTurn.Status,
    finishReason: String?,
    flags: [TurnFlag]?
  ) async throws -> StoredTurn {
    guard
      let row = try await rows(
        """
        UPDATE turn SET answer = \(answer), completion_tokens = \(Int64(completionTokens)),
          latency_ms = \(Int64(latencyMilliseconds)), status = \(status.rawValue), finish_reason = \(finishReason),
          completed_at = \(now()), flags = COALESCE(\(flags.map(TurnFlag.json)), flags)
        WHERE id = \(id) RETURNING \(unescaped: Self.turnColumns)
        """
      ).first
    else { throw TutorStoreError.turnNotFound(id) }
    return try Self.turn(row)
  }

  func flaggedTurns(_ filter: FlagFilter) async throws -> FlaggedTurnsPage {
    let (sql, arguments) = try FlagQuery.sql(filter)
    let rows = try await rows(Self.query(sql, arguments)).map(PostgresBlockingReader.Row.init)
    return try FlagQuery.page(rows, pageSize: filter.pageSize)
  }

  func purgeText(before cutoffMs: Int64) async throws -> (turns: Int, attempts: Int) {
    try await transaction("purgeText") { connection in
      let turns = try await connection.query(
        Self.query(FlagQuery.purgeTurns + " RETURNING id", [.integer(cutoffMs)]),
        logger: logger
      ).collect().count
      let attempts = try await connection.query(
        Self.query(FlagQuery.purgeAttempts + " RETURNING id", [.integer(cutoffMs)]),
        logger: logger
      ).collect().count
      return (turns, attempts)
    }
  }

  func markInterruptedTurns() async throws -> Int {
    try await rows(
      "UPDATE turn SET status = 'interrupted', completed_at = \(now()) WHERE status = 'answering' RETURNING id"
    ).count
  }

  // MARK: Replicas

  func renewLease(replicaId: String) async throws {
    let now = self.now()
    try await rows(
      """
      INSERT INTO replica (id, started_at, renewed_at) VALUES (\(replicaId), \(now), \(now))
      ON CONFLICT (id) DO UPDATE SET renewed_at = excluded.renewed_at
      """
    )
  }

  /// The channel replicas announce curriculum reloads on; the payload is the sender's id.
  static let reloadChannel = "tutor_reload"

  func announceReload(replicaId: String) async throws {
    try await rows("SELECT pg_notify(\(Self.reloadChannel), \(replicaId))")
  }

  func reloadAnnouncements(excluding replicaId: String) -> AsyncStream<Void> {
    let (configuration, logger) = (connectionConfiguration, logger)
    return AsyncStream { continuation in
      let listening = Task {
        // A connection of its own, kept open; after a failure, listen again.
        while !Task.isCancelled {
          do {
            let connection = try await PostgresConnection.connect(
              configuration: configuration,
              id: Int.random(in: 1_000_000 ..< Int.max),
              logger: logger
            )
            defer { Task { try? await connection.close() } }
            try await connection.listen(on: Self.reloadChannel) { notifications in
              for try await notification in notifications where notification.payload != replicaId {
                continuation.yield()
              }
            }
          } catch  where !Task.isCancelled {
            logger.warning(
              "lost the PostgreSQL connection that listens for reloads; listening again",
              metadata: ["error": "\(Self.message(error))"]
            )
            try? await Task.sleep(for: .seconds(1))
          } catch {}
        }
        continuation.finish()
      }
      continuation.onTermination = { _ in listening.cancel() }
    }
  }

  func releaseLease(replicaId: String) async throws {
    try await rows("DELETE FROM replica WHERE id = \(replicaId)")
  }

  func interruptOrphanedTurns(leaseMilliseconds: Int64) async throws -> Int {
    try await transaction("interruptOrphanedTurns") { connection in
      let now = self.now()
      let expired = now - leaseMilliseconds
      let interrupted = try await connection.query(
        """
        UPDATE turn SET status = 'interrupted', completed_at = \(now)
        WHERE status = 'answering'
          AND (replica_id IS NULL OR replica_id NOT IN (SELECT id FROM replica WHERE renewed_at >= \(expired)))
        RETURNING id
        """,
        logger: logger
      ).collect().count
      try await connection.query("DELETE FROM replica WHERE renewed_at < \(expired)", logger: logger)
      return interrupted
    }
  }

  // MARK: Attempts and mastery

  func recordAttempt(
    _ attempt: StoredAttempt,
    updateMastery update: @escaping @Sendable (Double?) -> Double?
  ) async throws -> Double? {
    try await transaction("recordAttempt") { connection in
      try await insert(attempt, on: connection)
      guard let objective = attempt.objectiveId else { return nil }
      // Attempts at one objective of one student queue here, so none reads a stale estimate.
      try await connection.query(
        """
        SELECT pg_advisory_xact_lock(hashtextextended(\(attempt.studentId + "\u{1F}" + attempt.curriculumId + "\u{1F}" + objective), 0))
        """,
        logger: logger
      )
      let previous = try await connection.query(
        """
        SELECT probability FROM mastery
        WHERE student_id = \(attempt.studentId) AND curriculum_id = \(attempt.curriculumId)
          AND objective_id = \(objective)
        """,
        logger: logger
      ).collect().first?.decode(Double.self)
      guard let mastery = update(previous) else { return nil }
      try await connection.query(
        """
        INSERT INTO mastery (\(unescaped: Self.masteryColumns))
        VALUES (\(attempt.studentId), \(attempt.curriculumId), \(objective), \(mastery), \(attempt.createdAtMs))
        ON CONFLICT (student_id, curriculum_id, objective_id)
        DO UPDATE SET probability = excluded.probability, updated_at = excluded.updated_at
        """,
        logger: logger
      )
      try await connection.query(
        """
        INSERT INTO mastery_history (student_id, curriculum_id, objective_id, probability, attempt_id, created_at)
        VALUES (\(attempt.studentId), \(attempt.curriculumId), \(objective), \(mastery), \(attempt.id),
                \(attempt.createdAtMs))
        """,
        logger: logger
      )
      return mastery
    }
  }

  func attemptCounts(sessionId: String, exerciseId: String) async throws -> (total: Int, wrong: Int) {
    guard
      let row = try await rows(
        """
        SELECT COUNT(*), COALESCE(SUM(1 - correct), 0) FROM attempt
        WHERE session_id = \(sessionId) AND exercise_id = \(exerciseId)
        """
      ).first
    else { return (0, 0) }
    let (total, wrong) = try row.decode((Int, Int).self)
    return (total, wrong)
  }

  func mastery(studentId: String, curriculumId: String?) async throws -> [StoredMastery] {
    try await rows(
      """
      SELECT \(unescaped: Self.masteryColumns) FROM mastery
      WHERE student_id = \(studentId) AND (\(curriculumId)::TEXT IS NULL OR curriculum_id = \(curriculumId))
      ORDER BY curriculum_id, objective_id
      """
    ).map(Self.mastery)
  }

  // MARK: Privacy, imports and tokens

  func deleteStudentData(studentId: String) async throws -> LearningRecordStore.DeletionReport {
    try await transaction("deleteStudentData") { connection in
      func count(_ query: PostgresQuery) async throws -> Int {
        try await connection.query(query, logger: logger).collect().first?.decode(Int.self) ?? 0
      }
      var report = LearningRecordStore.DeletionReport(
        sessions: try await count("SELECT COUNT(*) FROM session WHERE student_id = \(studentId)"),
        turns: try await count(
          "SELECT COUNT(*) FROM turn JOIN session ON session.id = turn.session_id WHERE student_id = \(studentId)"
        ),
        attempts: try await count("SELECT COUNT(*) FROM attempt WHERE student_id = \(studentId)"),
        masteryRecords: try await count("SELECT COUNT(*) FROM mastery WHERE student_id = \(studentId)")
          + count("SELECT COUNT(*) FROM mastery_history WHERE student_id = \(studentId)"),
        tokens: try await count("SELECT COUNT(*) FROM access_token WHERE student_id = \(studentId)")
      )
      let studentRows = try await count("SELECT COUNT(*) FROM student WHERE id = \(studentId)")
      report.found = report.tokens > 0 || studentRows > 0
      // Foreign keys cascade from the student to everything else; tokens have no foreign key.
      try await connection.query("DELETE FROM student WHERE id = \(studentId)", logger: logger)
      try await connection.query("DELETE FROM access_token WHERE student_id = \(studentId)", logger: logger)
      return report
    }
  }

  func insert(_ batch: LearningRecordStore.RecordBatch) async throws {
    try await transaction("insertBatch") { connection in
      for student in batch.students {
        try await insertStudent(student.id, createdAtMs: student.createdAtMs, on: connection)
      }
      for session in batch.sessions { try await insert(session, on: connection) }
      for turn in batch.turns { try await insert(turn, replicaId: nil, on: connection) }
      for attempt in batch.attempts { try await insert(attempt, on: connection) }
    }
  }

  func insertToken(_ token: StoredToken) async throws {
    try await rows(
      """
      INSERT INTO access_token (\(unescaped: Self.tokenColumns))
      VALUES (\(token.id), \(token.secretSHA256), \(token.role), \(token.studentId), \(Self.json(token.curricula)),
              \(token.label), \(token.createdAtMs), \(token.revokedAtMs))
      """
    )
  }

  func token(id: String) async throws -> StoredToken? {
    try await rows("SELECT \(unescaped: Self.tokenColumns) FROM access_token WHERE id = \(id)").first.map(
      Self.token
    )
  }

  func tokens(includeRevoked: Bool) async throws -> [StoredToken] {
    try await rows(
      """
      SELECT \(unescaped: Self.tokenColumns) FROM access_token
      \(unescaped: includeRevoked ? "" : "WHERE revoked_at IS NULL") ORDER BY created_at, id
      """
    ).map(Self.token)
  }

  func activeTokenCount() async throws -> Int {
    try await rows("SELECT COUNT(*) FROM access_token WHERE revoked_at IS NULL").first?.decode(Int.self) ?? 0
  }

  func revokeToken(id: String) async throws -> Bool {
    try await !rows(
      "UPDATE access_token SET revoked_at = \(now()) WHERE id = \(id) AND revoked_at IS NULL RETURNING id"
    ).isEmpty
  }

  func deleteTokens(ids: [String]) async throws {
    try await rows("DELETE FROM access_token WHERE id = ANY(\(ids))")
  }

  func recordCounts(
    studentIdPrefix prefix: String
  ) async throws -> (sessions: Int, turns: Int, completedTurns: Int, attempts: Int) {
    let pattern =
      prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
      .replacingOccurrences(of: "_", with: "\\_") + "%"
    guard
      let row = try await rows(
        """
        SELECT
          (SELECT COUNT(*) FROM session WHERE student_id LIKE \(pattern)),
          (SELECT COUNT(*) FROM turn JOIN session s ON s.id = turn.session_id WHERE s.student_id LIKE \(pattern)),
          (SELECT COUNT(*) FROM turn JOIN session s ON s.id = turn.session_id
            WHERE s.student_id LIKE \(pattern) AND turn.status = 'completed'),
          (SELECT COUNT(*) FROM attempt WHERE student_id LIKE \(pattern))
        """
      ).first
    else { return (0, 0, 0, 0) }
    let (sessions, turns, completed, attempts) = try row.decode((Int, Int, Int, Int).self)
    return (sessions, turns, completed, attempts)
  }

  func tableCounts() async throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for table in RecordTables.all {
      counts[table] =
        try await rows(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \(table)")).first?.decode(Int.self) ?? 0
    }
    return counts
  }
}
