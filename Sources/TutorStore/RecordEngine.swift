import Foundation

/// What a database engine does for ``LearningRecordStore``: SQLite (``SQLiteRecords``) on one
/// machine, PostgreSQL (``PostgresRecords``) for replicas that share the record. Both keep the
/// same schema and the same guarantees: each call is one transaction, durable when it returns.
protocol RecordEngine: Sendable {
  // Sessions
  func startSession(
    studentId: String,
    curriculumId: String,
    lessonId: String,
    lessonChosen: Bool
  ) async throws -> StoredSession
  func session(id: String) async throws -> StoredSession?
  func endSession(id: String) async throws -> StoredSession?
  func listSessions(
    studentId: String?,
    curriculumId: String?,
    pageSize: Int,
    pageToken: String?
  ) async throws -> (sessions: [StoredSession], nextPageToken: String?)
  func turnCounts(sessionIds: [String]) async throws -> [String: Int]
  func activity(studentId: String, curriculumId: String?) async throws -> LearningRecordStore.StudentActivity
  func activeSessionCount() async throws -> Int

  // Turns
  func turns(sessionId: String) async throws -> [StoredTurn]
  /// Stores a question (status `answering`, owned by `replicaId`); at most one per session.
  func beginTurn(
    sessionId: String,
    question: String,
    snippetIds: [String],
    promptTokens: Int,
    flags: [TurnFlag],
    replicaId: String
  ) async throws -> StoredTurn
  /// `flags`, when given, replace the turn's (the question's and the answer's together).
  func finishTurn(
    id: String,
    answer: String,
    completionTokens: Int,
    latencyMilliseconds: Int,
    status: StoredTurn.Status,
    finishReason: String?,
    flags: [TurnFlag]?
  ) async throws -> StoredTurn
  /// Marks every `answering` turn interrupted (one process per database, at its start).
  func markInterruptedTurns() async throws -> Int

  /// Flagged turns that `filter` selects, newest first, with their sessions' students.
  func flaggedTurns(_ filter: FlagFilter) async throws -> FlaggedTurnsPage
  /// Removes the question and answer text of turns, and the responses of attempts, created
  /// before `cutoffMs`; returns how many of each were cleared.
  func purgeText(before cutoffMs: Int64) async throws -> (turns: Int, attempts: Int)

  // Replicas
  /// Records that `replicaId` is alive now.
  func renewLease(replicaId: String) async throws
  /// Forgets `replicaId` (it stopped cleanly).
  func releaseLease(replicaId: String) async throws
  /// Marks `answering` turns of replicas whose lease is older than `leaseMilliseconds` (or of
  /// no replica) interrupted, and forgets those replicas.
  func interruptOrphanedTurns(leaseMilliseconds: Int64) async throws -> Int

  /// Tells the other replicas that the curricula changed (PostgreSQL `NOTIFY`).
  func announceReload(replicaId: String) async throws
  /// Reload announcements from replicas other than `replicaId`, until the task is cancelled.
  func reloadAnnouncements(excluding replicaId: String) -> AsyncStream<Void>

  // Attempts and mastery
  func recordAttempt(
    _ attempt: StoredAttempt,
    updateMastery update: @escaping @Sendable (Double?) -> Double?
  ) async throws -> Double?
  func attemptCounts(sessionId: String, exerciseId: String) async throws -> (total: Int, wrong: Int)
  func mastery(studentId: String, curriculumId: String?) async throws -> [StoredMastery]

  // Privacy, imports, tokens
  func deleteStudentData(studentId: String) async throws -> LearningRecordStore.DeletionReport
  func insert(_ batch: LearningRecordStore.RecordBatch) async throws
  func insertToken(_ token: StoredToken) async throws
  func token(id: String) async throws -> StoredToken?
  func tokens(includeRevoked: Bool) async throws -> [StoredToken]
  func activeTokenCount() async throws -> Int
  func revokeToken(id: String) async throws -> Bool
  func deleteTokens(ids: [String]) async throws
  func recordCounts(
    studentIdPrefix prefix: String
  ) async throws
    -> (sessions: Int, turns: Int, completedTurns: Int, attempts: Int)
  /// Students, sessions, turns, attempts, mastery records and tokens: what a copy checks.
  func tableCounts() async throws -> [String: Int]

  /// Every row of every table, parents first, in batches (one snapshot; blocks the thread).
  func readAllRows(batchSize: Int, _ body: (CopyTable, [[SQLValue]]) throws -> Void) throws
  /// Stores rows as they are, in one transaction.
  func insertRows(_ table: CopyTable, _ rows: [[SQLValue]]) async throws

  // Reading the whole record
  /// Blocks the calling thread (see ``LearningRecordStore/exportRecords(_:_:)``).
  func exportRecords(_ filter: ExportFilter, _ body: (ExportRecord) throws -> Void) throws
  func statistics(_ filter: ExportFilter, hardestExercises: Int) async throws -> LearningStatistics

  // Lifecycle
  func close() throws
  func integrityCheck() throws -> String
}
