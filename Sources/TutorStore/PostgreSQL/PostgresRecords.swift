import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The learning record in PostgreSQL (postgres-nio's connection pool): the engine for a
/// deployment whose replicas share one record. The schema is SQLite's (same tables, columns and
/// constraints, `BIGINT` milliseconds), with its own versioned migrations, applied under an
/// advisory lock so that replicas starting together migrate once.
final class PostgresRecords: RecordEngine {
  let client: PostgresClient
  /// For connections outside the pool (snapshot reads, notifications).
  let connectionConfiguration: PostgresConnection.Configuration
  let logger: Logger
  /// The current time in the store's unit (milliseconds since 1970).
  let now: @Sendable () -> Int64
  /// The pool's `run()`, cancelled by ``close()``.
  private let running: Task<Void, Never>

  private init(
    client: PostgresClient,
    connectionConfiguration: PostgresConnection.Configuration,
    clock: @escaping @Sendable () -> Int64,
    logger: Logger
  ) {
    self.client = client
    self.connectionConfiguration = connectionConfiguration
    self.now = clock
    self.logger = logger
    running = Task { await client.run() }
  }

  /// Connects (retrying for `patience`: a replica may start before its database does) and
  /// migrates.
  static func open(
    _ url: DatabaseLocation.PostgresURL,
    connections: Int,
    patience: Duration,
    clock: @escaping @Sendable () -> Int64,
    logger: Logger
  ) async throws -> PostgresRecords {
    let tls = TLSConfiguration.makeClientConfiguration()
    var configuration = PostgresClient.Configuration(
      host: url.host,
      port: url.port,
      username: url.user,
      password: url.password,
      database: url.database,
      tls: {
        switch url.tls {
        case .disable: .disable
        case .prefer: .prefer(tls)
        case .require: .require(tls)
        }
      }()
    )
    configuration.options.maximumConnections = max(2, connections)
    configuration.options.connectTimeout = .seconds(5)
    var single = PostgresConnection.Configuration(
      host: url.host,
      port: url.port,
      username: url.user,
      password: url.password,
      database: url.database,
      tls: .disable
    )
    switch url.tls {
    case .disable: break
    case .prefer: single.tls = .prefer(try NIOSSLContext(configuration: tls))
    case .require: single.tls = .require(try NIOSSLContext(configuration: tls))
    }
    // One connection first, on its own: the pool retries a failing connection for a minute
    // behind a generic error, while this says at once, in PostgreSQL's words, what is wrong (no
    // server there, an unknown role, a wrong password, no such database). Only a server that
    // does not answer yet is tried again, for `patience`.
    let deadline = ContinuousClock.now + patience
    while true {
      do {
        let probe = try await PostgresConnection.connect(configuration: single, id: 0, logger: logger)
        try await probe.close()
        break
      } catch let error where Self.isConnectionFailure(error) && ContinuousClock.now < deadline {
        logger.notice(
          "PostgreSQL not reachable yet; retrying",
          metadata: ["database": "\(url.redacted)", "error": "\(Self.message(error))"]
        )
        try await Task.sleep(for: .seconds(1))
      } catch {
        throw TutorStoreError.cannotOpen(path: url.redacted, reason: Self.message(error))
      }
    }
    let records = PostgresRecords(
      client: PostgresClient(configuration: configuration, backgroundLogger: logger),
      connectionConfiguration: single,
      clock: clock,
      logger: logger
    )
    // Give the pool's `run()` a moment to start: a lease asked for before it runs waits anyway,
    // but with a warning in the log.
    try await Task.sleep(for: .milliseconds(10))
    do {
      try await records.migrate()
      return records
    } catch {
      records.running.cancel()
      throw TutorStoreError.cannotOpen(path: url.redacted, reason: Self.message(error))
    }
  }

  func close() throws { running.cancel() }

  func integrityCheck() throws -> String {
    try readSnapshot { reader in try reader.row("SELECT 'ok'", []).map { try $0.string(0) } ?? "" }
  }

  // MARK: Queries

  /// `sql` written with `?` placeholders (the shared queries') numbered as PostgreSQL's `$n`.
  /// The queries have no `?` inside literals.
  static func query(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQuery {
    var numbered = ""
    numbered.reserveCapacity(sql.utf8.count + 8)
    var index = 0
    for character in sql {
      if character == "?" {
        index += 1
        numbered += "$\(index)"
      } else {
        numbered.append(character)
      }
    }
    var binds = PostgresBindings(capacity: arguments.count)
    for argument in arguments {
      switch argument {
      case .null: binds.appendNull()
      case .integer(let value): binds.append(value)
      case .real(let value): binds.append(value)
      case .text(let value): binds.append(value)
      case .blob(let value): try binds.append(value)
      }
    }
    return PostgresQuery(unsafeSQL: numbered, binds: binds)
  }

  /// Runs `body` in a transaction on one pooled connection: committed when it returns, rolled
  /// back when it throws (its error is rethrown as it was). `operation` names it in errors.
  func transaction<T: Sendable>(
    _ operation: String,
    _ body: (PostgresConnection) async throws -> T
  ) async throws -> T {
    try await storageErrors(operation) {
      try await client.withConnection { connection in
        try await connection.query("BEGIN", logger: logger)
        let value: T
        do {
          value = try await body(connection)
        } catch {
          _ = try? await connection.query("ROLLBACK", logger: logger)
          throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return value
      }
    }
  }

  /// Every row of one statement (results known to be small).
  @discardableResult
  func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
    try await storageErrors { try await client.query(query, logger: logger).collect() }
  }

  /// Errors of the database's reachability or resources become
  /// ``TutorStoreError/storageUnavailable(_:)`` (nothing of the request was stored); the rest
  /// pass through.
  func storageErrors<T>(_ operation: String? = nil, _ body: () async throws -> T) async throws -> T {
    do {
      return try await body()
    } catch let error where Self.isConnectionFailure(error) || Self.isResourceFailure(error) {
      throw TutorStoreError.storageUnavailable(
        "PostgreSQL\(operation.map { " (\($0))" } ?? ""): \(Self.message(error))"
      )
    }
  }

  static func sqlState(_ error: any Error) -> String? {
    (error as? PSQLError)?.serverInfo?[.sqlState]
  }

  /// The server could not be reached or went away.
  static func isConnectionFailure(_ error: any Error) -> Bool {
    if let state = sqlState(error) {
      // 08: connection exception; 57P: operator intervention (shutdown); 53300: too many clients.
      return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
    }
    guard let error = error as? PSQLError else { return error is ChannelError || error is IOError }
    return [
      .connectionError, .serverClosedConnection, .uncleanShutdown, .poolClosed, .clientClosedConnection,
    ]
    .contains(error.code)
  }

  /// The server is out of disk or memory, or read-only.
  static func isResourceFailure(_ error: any Error) -> Bool {
    guard let state = sqlState(error) else { return false }
    return state.hasPrefix("53") || state == "25006"
  }

  /// What went wrong, in PostgreSQL's words where it said something.
  static func message(_ error: any Error) -> String {
    if let error = error as? PSQLError {
      if let message = error.serverInfo?[.message] {
        return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
      }
      if let underlying = error.underlying { return "\(error.code): \(underlying)" }
      return "\(error.code)"
    }
    return "\(error)"
  }
}

// MARK: Reading in one snapshot from a blocking thread

extension PostgresRecords {
  /// Runs `body` on the calling thread (which must be free to block: a thread of its own, not
  /// one of Swift's cooperative pool) in one REPEATABLE READ, read-only transaction, so every
  /// query it makes sees one snapshot. The transaction has a connection of its own, outside the
  /// pool (a long export does not hold up tutoring), driven through postgres-nio's
  /// EventLoopFuture API: no task on the cooperative pool waits on a blocked thread.
  func readSnapshot<T>(_ body: (PostgresBlockingReader) throws -> T) throws -> T {
    do {
      let connection = try PostgresConnection.connect(
        on: PostgresClient.defaultEventLoopGroup.next(),
        configuration: connectionConfiguration,
        id: Int.random(in: 1_000_000 ..< Int.max),
        logger: logger
      ).wait()
      defer { try? connection.close().wait() }
      let reader = PostgresBlockingReader(connection: connection, logger: logger)
      _ = try reader.rows("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", [])
      let value = try body(reader)
      // Read only: nothing to commit.
      _ = try reader.rows("ROLLBACK", [])
      return value
    } catch let error where Self.isConnectionFailure(error) || Self.isResourceFailure(error) {
      throw TutorStoreError.storageUnavailable("PostgreSQL: \(Self.message(error))")
    }
  }

  /// ``readSnapshot(_:)`` for async callers: the blocking part runs on a thread of its own.
  func readSnapshot<T: Sendable>(
    async body: @escaping @Sendable (PostgresBlockingReader) throws -> T
  ) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { continuation.resume(with: Result { try self.readSnapshot(body) }) }
      thread.name = "tutor-postgres-read"
      thread.start()
    }
  }

  func exportRecords(_ filter: ExportFilter, _ body: (ExportRecord) throws -> Void) throws {
    try readSnapshot { reader in try ExportQuery.run(filter, on: reader, body) }
  }

  func readAllRows(batchSize: Int, _ body: (CopyTable, [[SQLValue]]) throws -> Void) throws {
    try readSnapshot { reader in try CopyTable.readAll(on: reader, batchSize: batchSize, body) }
  }

  func insertRows(_ table: CopyTable, _ rows: [[SQLValue]]) async throws {
    guard !rows.isEmpty else { return }
    // One statement of many rows; booleans (read as 0/1) become PostgreSQL's booleans.
    var sql = "INSERT INTO \(table.name) (\(table.columns.map(\.name).joined(separator: ", "))) VALUES "
    var binds = PostgresBindings(capacity: rows.count * table.columns.count)
    var index = 0
    for (r, row) in rows.enumerated() {
      sql += r == 0 ? "(" : ", ("
      for (c, value) in row.enumerated() {
        index += 1
        sql += (c == 0 ? "$" : ", $") + "\(index)"
        switch (table.columns[c].kind, value) {
        case (_, .null): binds.appendNull()
        case (.boolean, .integer(let flag)): binds.append(flag != 0)
        case (_, .integer(let value)): binds.append(value)
        case (_, .real(let value)): binds.append(value)
        // Records copied from SQLite may hold NUL characters, which PostgreSQL's text cannot.
        case (_, .text(let value)): binds.append(LearningRecordStore.storable(value))
        case (_, .blob(let value)): try binds.append(value)
        }
      }
      sql += ")"
    }
    let query = PostgresQuery(unsafeSQL: sql, binds: binds)
    try await transaction("insertRows") { connection in _ = try await connection.query(query, logger: logger)
    }
  }

  func statistics(_ filter: ExportFilter, hardestExercises: Int) async throws -> LearningStatistics {
    try await readSnapshot { reader in
      try StatisticsQuery.run(filter, hardestExercises: hardestExercises, on: reader)
    }
  }
}

/// The shared queries' reader on one PostgreSQL connection, for a thread that blocks while each
/// query runs.
struct PostgresBlockingReader: SQLReader {
  struct Row: SQLRow {
    let row: PostgresRandomAccessRow
    init(_ row: PostgresRow) { self.row = PostgresRandomAccessRow(row) }
    func integer(_ column: Int) throws -> Int64? { try row[column].decode(Int64?.self) }
    func text(_ column: Int) throws -> String? { try row[column].decode(String?.self) }
    func real(_ column: Int) throws -> Double? { try row[column].decode(Double?.self) }
    func blob(_ column: Int) throws -> Data? { try row[column].decode(Data?.self) }
  }

  let connection: PostgresConnection
  let logger: Logger
  /// Rows fetched from a cursor at a time: memory holds one batch.
  static let cursorBatch = 1000

  func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [Row] {
    try connection.query(try PostgresRecords.query(sql, arguments), logger: logger).wait().rows.map(Row.init)
  }

  /// A server-side cursor (`DECLARE … CURSOR`), fetched a batch at a time.
  func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (Row) throws -> Void) throws {
    let cursor = "tutor_cursor"
    _ = try rows("DECLARE \(cursor) NO SCROLL CURSOR FOR \(sql)", arguments)
    while true {
      let batch = try rows("FETCH FORWARD \(Self.cursorBatch) FROM \(cursor)", [])
      if batch.isEmpty { break }
      for row in batch { try body(row) }
    }
    _ = try rows("CLOSE \(cursor)", [])
  }
}
