import Foundation
import Logging
import Metrics

/// The learning record: students, sessions, turns, attempts and mastery, in one SQLite file (one
/// machine) or in PostgreSQL (any number of server replicas sharing it). One API, two engines
/// with the same schema and guarantees.
///
/// Every write is a transaction that is durable when the call returns, so a server can
/// acknowledge what it stored. A turn's question is stored before its answer is generated, owned
/// by the replica answering it; a replica renews a lease while it lives, and the turns of a
/// replica whose lease expired (it died mid-answer) are marked `interrupted` by whichever
/// replica notices first (``interruptOrphanedTurns(leaseMilliseconds:)``).
///
/// ```swift
/// let store = try await LearningRecordStore.open("postgres://tutor@db:5432/tutor")
/// let session = try await store.startSession(studentId: "s-17", curriculumId: "fractions-ratios", lessonId: "ratios")
/// var turn = try await store.beginTurn(sessionId: session.id, question: "What is a ratio?", snippetIds: [], promptTokens: 120)
/// ```
public final class LearningRecordStore: Sendable {
  let engine: any RecordEngine
  /// Where the record is, for logs (a URL without its password).
  public let location: DatabaseLocation
  /// This process among the replicas sharing the database: the owner of the turns it answers.
  public let replicaId: String

  init(engine: any RecordEngine, location: DatabaseLocation) {
    self.engine = engine
    self.location = location
    replicaId = UUID().uuidString.lowercased()
  }

  /// Opens (creating if needed) the SQLite database at `path` and migrates it to the current
  /// schema.
  /// - Parameter clock: what "now" is for the times the store records (tests pass their own).
  public convenience init(
    path: String,
    clock: @escaping @Sendable () -> Int64 = { Date().millisecondsSince1970 }
  ) throws {
    self.init(engine: try SQLiteRecords(path: path, clock: clock), location: .sqlite(path: path))
  }

  /// Opens the database at `location` (a file path, or a `postgres://` URL) and migrates it.
  /// - Parameters:
  ///   - connections: the most PostgreSQL connections this process holds.
  ///   - patience: how long to keep trying a PostgreSQL server that does not answer yet (a
  ///     server starting beside its database); zero: fail at once.
  public static func open(
    _ location: DatabaseLocation,
    connections: Int = 8,
    patience: Duration = .zero,
    clock: @escaping @Sendable () -> Int64 = { Date().millisecondsSince1970 },
    logger: Logger = Logger(label: "tutor.store")
  ) async throws -> LearningRecordStore {
    switch location {
    case .sqlite(let path):
      return try LearningRecordStore(path: path, clock: clock)
    case .postgres(let url):
      let engine = try await PostgresRecords.open(
        url,
        connections: connections,
        patience: patience,
        clock: clock,
        logger: logger
      )
      return LearningRecordStore(engine: engine, location: location)
    }
  }

  /// Whether other processes may share this record (PostgreSQL): what is true inside one
  /// process must then be checked in the database.
  public var isShared: Bool {
    if case .postgres = location { return true }
    return false
  }

  /// Runs `body`, timed as `tutor_db_write_seconds{operation}` (swift-metrics; free unless the
  /// process bootstrapped a metrics backend).
  func timed<T: Sendable>(_ operation: String, _ body: () async throws -> T) async throws -> T {
    let start = ContinuousClock.now
    defer {
      Metrics.Timer(label: "tutor_db_write_seconds", dimensions: [("operation", operation)]).record(
        duration: ContinuousClock.now - start
      )
    }
    return try await body()
  }

  /// Sets the `tutor_active_sessions` gauge from the database (an index count).
  public func reportActiveSessions() async {
    if let count = try? await engine.activeSessionCount() {
      Gauge(label: "tutor_active_sessions").record(count)
    }
  }

  /// Closes every connection (SQLite: after checkpointing the write-ahead log into the file, which
  /// then holds everything). Call once, when nothing else uses the store.
  public func close() throws { try engine.close() }

  /// SQLite's `PRAGMA integrity_check` ("ok" for a sound file); PostgreSQL checks its own pages,
  /// and this says "ok" when it answers.
  public func integrityCheck() throws -> String { try engine.integrityCheck() }

  /// `text` as both engines store it: a NUL character (which PostgreSQL's text cannot hold, and
  /// which a model may well emit: GPT-2's byte-level vocabulary has a token for it) becomes
  /// U+FFFD, the replacement character. Questions, answers and labels are stored so.
  public static func storable(_ text: String) -> String {
    text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
  }

  // MARK: Records

  /// Records to store as they are, ids and times included.
  public struct RecordBatch: Sendable {
    public var students: [(id: String, createdAtMs: Int64)] = []
    public var sessions: [StoredSession] = []
    public var turns: [StoredTurn] = []
    public var attempts: [StoredAttempt] = []

    public init() {}

    public var count: Int { students.count + sessions.count + turns.count + attempts.count }
  }

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

  /// Everything recorded about a student's learning, optionally in one curriculum: sessions
  /// (oldest first), their turns and the student's attempts.
  public struct StudentActivity: Sendable {
    public var sessions: [StoredSession]
    public var turns: [StoredTurn]
    public var attempts: [StoredAttempt]
    public var mastery: [StoredMastery]
  }

  // MARK: Sessions

  /// Starts a session, creating the student on first use.
  public func startSession(
    studentId: String,
    curriculumId: String,
    lessonId: String,
    lessonChosen: Bool = true
  ) async throws -> StoredSession {
    let session = try await timed("startSession") {
      try await engine.startSession(
        studentId: studentId,
        curriculumId: curriculumId,
        lessonId: lessonId,
        lessonChosen: lessonChosen
      )
    }
    await reportActiveSessions()
    return session
  }

  public func session(id: String) async throws -> StoredSession? { try await engine.session(id: id) }

  /// Ends a session; returns it, or nil when it does not exist.
  public func endSession(id: String) async throws -> StoredSession? {
    let session = try await timed("endSession") { try await engine.endSession(id: id) }
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
    try await engine.listSessions(
      studentId: studentId,
      curriculumId: curriculumId,
      pageSize: pageSize,
      pageToken: pageToken
    )
  }

  /// How many turns each of `sessionIds` has (sessions without turns are absent).
  public func turnCounts(sessionIds: [String]) async throws -> [String: Int] {
    guard !sessionIds.isEmpty else { return [:] }
    return try await engine.turnCounts(sessionIds: sessionIds)
  }

  public func activity(studentId: String, curriculumId: String? = nil) async throws -> StudentActivity {
    try await engine.activity(studentId: studentId, curriculumId: curriculumId)
  }

  // MARK: Turns

  /// A session's turns, oldest first.
  public func turns(sessionId: String) async throws -> [StoredTurn] {
    try await engine.turns(sessionId: sessionId)
  }

  /// Stores a question before its answer is generated (status `answering`, owned by this
  /// replica).
  /// - Throws: ``TutorStoreError/sessionNotFound(_:)``, ``TutorStoreError/sessionEnded(_:)``, or
  ///   ``TutorStoreError/sessionBusy(_:)`` when the session already has a question being answered
  ///   (here or by another replica: the database's unique index decides).
  public func beginTurn(
    sessionId: String,
    question: String,
    snippetIds: [String],
    promptTokens: Int,
    flags: [TurnFlag] = []
  ) async throws -> StoredTurn {
    try await timed("beginTurn") {
      try await engine.beginTurn(
        sessionId: sessionId,
        question: Self.storable(question),
        snippetIds: snippetIds,
        promptTokens: promptTokens,
        flags: flags,
        replicaId: replicaId
      )
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
    finishReason: String?,
    flags: [TurnFlag]? = nil
  ) async throws -> StoredTurn {
    try await timed("finishTurn") {
      try await engine.finishTurn(
        id: id,
        answer: Self.storable(answer),
        completionTokens: completionTokens,
        latencyMilliseconds: latencyMilliseconds,
        status: status,
        finishReason: finishReason,
        flags: flags
      )
    }
  }

  /// One page of turns that screening flagged, newest first.
  /// - Throws: ``TutorStoreError/invalidPageToken`` for a token this store did not make.
  public func flaggedTurns(_ filter: FlagFilter) async throws -> FlaggedTurnsPage {
    try await timed("flaggedTurns") { try await engine.flaggedTurns(filter) }
  }

  /// Retention: removes the question and answer text of turns, and the responses of attempts,
  /// created before `date`, keeping the rows (counts, times, mastery and flags' categories stay
  /// right). Returns how many turns and attempts were cleared.
  @discardableResult
  public func purgeText(before date: Date) async throws -> (turns: Int, attempts: Int) {
    try await timed("purgeText") { try await engine.purgeText(before: date.millisecondsSince1970) }
  }

  /// Marks every turn left `answering` as `interrupted`; returns how many. For a database that
  /// one process serves (SQLite): call once at start-up, before serving.
  public func markInterruptedTurns() async throws -> Int {
    try await timed("markInterruptedTurns") { try await engine.markInterruptedTurns() }
  }

  // MARK: Replicas

  /// Records that this replica is alive now; renew well within the lease.
  public func renewLease() async throws {
    try await timed("renewLease") { try await engine.renewLease(replicaId: replicaId) }
  }

  /// Forgets this replica's lease (on a clean stop, after its answers finished).
  public func releaseLease() async throws {
    try await timed("releaseLease") { try await engine.releaseLease(replicaId: replicaId) }
  }

  /// Marks the `answering` turns of replicas that have not renewed their lease for
  /// `leaseMilliseconds` (they died mid-answer) as `interrupted`; returns how many.
  public func interruptOrphanedTurns(leaseMilliseconds: Int64) async throws -> Int {
    try await timed("interruptOrphanedTurns") {
      try await engine.interruptOrphanedTurns(leaseMilliseconds: leaseMilliseconds)
    }
  }

  /// Tells the other replicas sharing the record that the curricula changed, so that they
  /// reload too (PostgreSQL `NOTIFY`; nothing with SQLite, which one process serves).
  public func announceReload() async throws { try await engine.announceReload(replicaId: replicaId) }

  /// Reload announcements of the other replicas, as they come (PostgreSQL `LISTEN` on a
  /// connection of its own, listening again after a failure); ends at once with SQLite.
  public func reloadAnnouncements() -> AsyncStream<Void> { engine.reloadAnnouncements(excluding: replicaId) }

  // MARK: Attempts and mastery

  /// Stores a graded attempt and, when given, the objective's new mastery (current value and
  /// history) in one transaction.
  public func recordAttempt(_ attempt: StoredAttempt, mastery: Double? = nil) async throws {
    _ = try await recordAttempt(attempt) { _ in mastery }
  }

  /// Stores a graded attempt and updates the mastery of its objective from the stored estimate
  /// (nil before the first attempt) in the same transaction, so concurrent attempts (on any
  /// replica) never lose an update. Returns the new estimate (nil when the attempt has no
  /// objective or `update` returns nil).
  public func recordAttempt(
    _ attempt: StoredAttempt,
    updateMastery update: @escaping @Sendable (Double?) -> Double?
  ) async throws -> Double? {
    var attempt = attempt
    attempt.answer = Self.storable(attempt.answer)
    return try await timed("recordAttempt") { [attempt] in
      try await engine.recordAttempt(attempt, updateMastery: update)
    }
  }

  /// Attempts at one exercise in a session so far: all of them and the wrong ones.
  public func attemptCounts(sessionId: String, exerciseId: String) async throws -> (total: Int, wrong: Int) {
    try await engine.attemptCounts(sessionId: sessionId, exerciseId: exerciseId)
  }

  /// A student's mastery estimates, optionally in one curriculum.
  public func mastery(studentId: String, curriculumId: String? = nil) async throws -> [StoredMastery] {
    try await engine.mastery(studentId: studentId, curriculumId: curriculumId)
  }

  // MARK: Privacy, imports and tokens

  /// Removes a student and everything recorded about them, in one transaction.
  public func deleteStudentData(studentId: String) async throws -> DeletionReport {
    try await timed("deleteStudentData") { try await engine.deleteStudentData(studentId: studentId) }
  }

  /// Stores `batch` in one transaction (all of it or nothing): students first (one already
  /// stored is kept), then sessions, turns and attempts, which must refer to students and
  /// sessions stored by now.
  public func insert(_ batch: RecordBatch) async throws {
    var batch = batch
    for i in batch.turns.indices {
      batch.turns[i].question = Self.storable(batch.turns[i].question)
      batch.turns[i].answer = Self.storable(batch.turns[i].answer)
    }
    for i in batch.attempts.indices { batch.attempts[i].answer = Self.storable(batch.attempts[i].answer) }
    try await timed("insertBatch") { [batch] in try await engine.insert(batch) }
  }

  /// Stores a new token (its id must be new).
  public func insertToken(_ token: StoredToken) async throws {
    var token = token
    token.label = Self.storable(token.label)
    try await timed("insertToken") { [token] in try await engine.insertToken(token) }
  }

  /// The token with this id, revoked or not.
  public func token(id: String) async throws -> StoredToken? { try await engine.token(id: id) }

  /// Tokens, oldest first; revoked ones only when asked.
  public func tokens(includeRevoked: Bool = false) async throws -> [StoredToken] {
    try await engine.tokens(includeRevoked: includeRevoked)
  }

  /// Tokens not revoked.
  public func activeTokenCount() async throws -> Int { try await engine.activeTokenCount() }

  /// Revokes a token; false when there is no such token or it was already revoked.
  public func revokeToken(id: String) async throws -> Bool {
    try await timed("revokeToken") { try await engine.revokeToken(id: id) }
  }

  /// Deletes tokens outright (a load test's, once it is over).
  public func deleteTokens(ids: [String]) async throws {
    guard !ids.isEmpty else { return }
    try await timed("deleteTokens") { try await engine.deleteTokens(ids: ids) }
  }

  /// Sessions, turns (all and completed) and attempts of the students whose ids start with
  /// `prefix`: what a load test checks against what the server acknowledged.
  public func recordCounts(
    studentIdPrefix prefix: String
  ) async throws -> (sessions: Int, turns: Int, completedTurns: Int, attempts: Int) {
    try await engine.recordCounts(studentIdPrefix: prefix)
  }

  // MARK: Reading the whole record

  /// Reads the turns and attempts that `filter` selects, oldest first, and hands them to `body`
  /// one at a time.
  ///
  /// The records come from a database cursor (SQLite's, or a PostgreSQL server-side cursor), so
  /// memory stays flat however many there are, and from one read transaction, so they are one
  /// consistent snapshot that never blocks tutoring's writes. It blocks the calling thread: call
  /// it from a thread of its own, not from Swift's cooperative pool. An error thrown by `body`
  /// stops the export and is rethrown.
  public func exportRecords(_ filter: ExportFilter, _ body: (ExportRecord) throws -> Void) throws {
    try engine.exportRecords(filter, body)
  }

  /// Summarises the records `filter` selects (see ``LearningStatistics``), in one read
  /// snapshot; aggregates run in the database.
  public func statistics(_ filter: ExportFilter, hardestExercises: Int = 5) async throws -> LearningStatistics
  {
    try await engine.statistics(filter, hardestExercises: hardestExercises)
  }
}
