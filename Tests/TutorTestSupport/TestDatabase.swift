import Foundation
import Synchronization
import TutorStore

/// A fresh, empty learning record for one test, on either engine: a SQLite file in a temporary
/// folder, or a database of its own in the test PostgreSQL cluster that the README's test
/// command starts (`TUTOR_TEST_POSTGRES_URL`, a superuser URL). Removed when released.
public final class TestDatabase: Sendable {
  public enum Engine: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgres
    public var description: String { rawValue }
  }

  /// The superuser URL of the test cluster, when there is one.
  public static var postgresAdminURL: String? {
    ProcessInfo.processInfo.environment["TUTOR_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
  }

  /// The engines this run can test: SQLite always, PostgreSQL when the test command started it.
  public static var engines: [Engine] { postgresAdminURL == nil ? [.sqlite] : [.sqlite, .postgres] }

  public let engine: Engine
  public let location: DatabaseLocation
  private let directory: URL
  private let postgresName: String?

  private init(engine: Engine, location: DatabaseLocation, directory: URL, postgresName: String?) {
    self.engine = engine
    self.location = location
    self.directory = directory
    self.postgresName = postgresName
  }

  /// A new database. With PostgreSQL, `CREATE DATABASE` runs in `psql` while this task waits
  /// without holding a thread of Swift's small cooperative pool (a blocked pool stalls every
  /// test server in the process).
  public static func make(_ engine: Engine) async throws -> TestDatabase {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "store-\(UUID().uuidString)"
    )
    switch engine {
    case .sqlite:
      return TestDatabase(
        engine: engine,
        location: .sqlite(path: directory.appendingPathComponent("data/tutor.sqlite").path),
        directory: directory,
        postgresName: nil
      )
    case .postgres:
      let (admin, name, url) = try postgresTarget()
      try await psql(admin, "CREATE DATABASE \(name)")
      return TestDatabase(engine: engine, location: .postgres(url), directory: directory, postgresName: name)
    }
  }

  /// The same, for synchronous callers (blocks the thread while `psql` runs).
  public convenience init(blocking engine: Engine) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "store-\(UUID().uuidString)"
    )
    switch engine {
    case .sqlite:
      self.init(
        engine: engine,
        location: .sqlite(path: directory.appendingPathComponent("data/tutor.sqlite").path),
        directory: directory,
        postgresName: nil
      )
    case .postgres:
      let (admin, name, url) = try Self.postgresTarget()
      let process = try Self.psqlProcess(admin, "CREATE DATABASE \(name)")
      process.waitUntilExit()
      try Self.check(process, "CREATE DATABASE \(name)")
      self.init(engine: engine, location: .postgres(url), directory: directory, postgresName: name)
    }
  }

  private static func postgresTarget() throws -> (
    admin: String, name: String, url: DatabaseLocation.PostgresURL
  ) {
    guard let admin = postgresAdminURL, case .postgres(var url) = try DatabaseLocation(parsing: admin) else {
      throw TestDatabaseError("TUTOR_TEST_POSTGRES_URL is not set: run the tests with tools/test.sh")
    }
    let name = "tutor_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    url.database = name
    return (admin, name, url)
  }

  /// `DROP DATABASE` processes still running, kept until they end.
  private static let dropping = Mutex<[UUID: Process]>([:])

  deinit {
    try? FileManager.default.removeItem(at: directory)
    // Dropped in the background, not waited for (the cluster goes at the end of the run anyway).
    if let postgresName, let admin = Self.postgresAdminURL {
      let id = UUID()
      let process = try? Self.psqlProcess(admin, "DROP DATABASE IF EXISTS \(postgresName) WITH (FORCE)") {
        _ in
        _ = Self.dropping.withLock { $0.removeValue(forKey: id) }
      }
      if let process { Self.dropping.withLock { $0[id] = process } }
    }
  }

  /// The URL or path a `tutor` command takes as `--db`.
  public var argument: String {
    switch location {
    case .sqlite(let path): path
    case .postgres(let url): url.url
    }
  }

  /// Opens the store (migrating it on first use).
  public func open(
    clock: @escaping @Sendable () -> Int64 = { Date().millisecondsSince1970 }
  ) async throws -> LearningRecordStore {
    try await LearningRecordStore.open(location, connections: 4, clock: clock)
  }

  /// Runs one SQL command through `psql` as the cluster's superuser, waiting for it without
  /// blocking a thread.
  public static func psql(_ url: String, _ command: String) async throws {
    let finished = AsyncStream<Void>.makeStream()
    let process = try psqlProcess(url, command) { _ in finished.continuation.finish() }
    for await _ in finished.stream {}
    try check(process, command)
  }

  /// `psql URL -c COMMAND`, started.
  static func psqlProcess(
    _ url: String,
    _ command: String,
    whenDone: (@Sendable (Process) -> Void)? = nil
  ) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["psql", url, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", command]
    process.standardError = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.terminationHandler = whenDone
    try process.run()
    return process
  }

  static func check(_ process: Process, _ command: String) throws {
    guard process.terminationStatus == 0 else {
      let errors = (process.standardError as? Pipe)?.fileHandleForReading.readDataToEndOfFile() ?? Data()
      throw TestDatabaseError("psql -c \(command): \(String(decoding: errors, as: UTF8.self))")
    }
  }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
