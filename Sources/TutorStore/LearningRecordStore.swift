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
/// let store = try LearningRecordStore(path: "data/tutor.sqlite")
/// let interrupted = try await store.markInterruptedTurns()
/// let session = try await store.startSession(studentId: "s-17", curriculumId: "fractions-ratios", lessonId: "ratios")
/// var turn = try await store.beginTurn(sessionId: session.id, question: "What is a ratio?", snippetIds: [], promptTokens: 120)
/// ```
public final class LearningRecordStore: Sendable {
  let pool: DatabasePool
  /// The current time in the store's unit (milliseconds since 1970): the wall clock, or a
  /// test's.
  let now: @Sendable () -> Int64

  /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
  /// - Parameter clock: what "now" is for the times the store records (tests pass their own).
  public init(path: String, clock: @escaping @Sendable () -> Int64 = { Date().millisecondsSince1970 }) throws
  {
    now = clock
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
