import Foundation
import GRDB

/// The learning record in one SQLite database file (WAL mode, versioned migrations): the engine
/// for one machine.
final class SQLiteRecords: RecordEngine {
  let pool: DatabasePool
  /// The current time in the store's unit (milliseconds since 1970): the wall clock, or a
  /// test's.
  let now: @Sendable () -> Int64

  /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
  init(path: String, clock: @escaping @Sendable () -> Int64) throws {
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

  /// A write transaction. Errors of the storage itself become
  /// ``TutorStoreError/storageUnavailable(_:)``.
  func write<T: Sendable>(
    _ operation: String,
    _ body: @escaping @Sendable (Database) throws -> T
  ) async throws -> T {
    do {
      return try await pool.write(body)
    } catch let error as DatabaseError
      where [.SQLITE_FULL, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN].contains(error.resultCode)
    {
      // The transaction rolled back: nothing of this write is stored, and the caller says so.
      throw TutorStoreError.storageUnavailable(error.message ?? "\(error.resultCode)")
    }
  }

  func activeSessionCount() async throws -> Int {
    try await pool.read { db in
      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM session WHERE state = 'active'") ?? 0
    }
  }

  /// Checkpoints the write-ahead log into the database file and closes every connection: the
  /// file alone then holds everything.
  func close() throws {
    _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    try pool.close()
  }

  /// `PRAGMA integrity_check`: "ok" for a sound database.
  func integrityCheck() throws -> String {
    try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
  }

  func exportRecords(_ filter: ExportFilter, _ body: (ExportRecord) throws -> Void) throws {
    // One read transaction on a reader connection: one consistent snapshot that, the database
    // being in WAL mode, never blocks tutoring's writes.
    try pool.read { db in try ExportQuery.run(filter, on: GRDBReader(db: db), body) }
  }

  func readAllRows(batchSize: Int, _ body: (CopyTable, [[SQLValue]]) throws -> Void) throws {
    try pool.read { db in try CopyTable.readAll(on: GRDBReader(db: db), batchSize: batchSize, body) }
  }

  func insertRows(_ table: CopyTable, _ rows: [[SQLValue]]) async throws {
    let sql =
      "INSERT INTO \(table.name) (\(table.columns.map(\.name).joined(separator: ", "))) VALUES ("
      + Array(repeating: "?", count: table.columns.count).joined(separator: ", ") + ")"
    try await write("insertRows") { db in
      let statement = try db.cachedStatement(sql: sql)
      for row in rows { try statement.execute(arguments: GRDBReader.arguments(row)) }
    }
  }

  func statistics(_ filter: ExportFilter, hardestExercises: Int) async throws -> LearningStatistics {
    try await pool.read { db in
      try StatisticsQuery.run(filter, hardestExercises: hardestExercises, on: GRDBReader(db: db))
    }
  }
}

/// The shared queries' reader on a GRDB connection.
struct GRDBReader: SQLReader {
  let db: Database

  struct Row: SQLRow {
    let row: GRDB.Row
    func integer(_ column: Int) throws -> Int64? { row[column] }
    func text(_ column: Int) throws -> String? { row[column] }
    func real(_ column: Int) throws -> Double? { row[column] }
    func blob(_ column: Int) throws -> Data? { row[column] }
  }

  func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [Row] {
    try GRDB.Row.fetchAll(db, sql: sql, arguments: Self.arguments(arguments)).map(Row.init)
  }

  func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (Row) throws -> Void) throws {
    let cursor = try GRDB.Row.fetchCursor(db, sql: sql, arguments: Self.arguments(arguments))
    while let row = try cursor.next() { try body(Row(row: row)) }
  }

  static func arguments(_ values: [SQLValue]) -> StatementArguments {
    StatementArguments(
      values.map { value -> any DatabaseValueConvertible in
        switch value {
        case .null: DatabaseValue.null
        case .integer(let int): int
        case .real(let real): real
        case .text(let text): text
        case .blob(let data): data
        }
      }
    )
  }
}
