import Foundation
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

  public init(_ engine: Engine) throws {
    self.engine = engine
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
    switch engine {
    case .sqlite:
      postgresName = nil
      location = .sqlite(path: directory.appendingPathComponent("data/tutor.sqlite").path)
    case .postgres:
      guard let admin = Self.postgresAdminURL, case .postgres(var url) = try DatabaseLocation(parsing: admin)
      else {
        throw TestDatabaseError("TUTOR_TEST_POSTGRES_URL is not set: run the tests with tools/test.sh")
      }
      let name = "tutor_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
      try Self.psql(admin, "CREATE DATABASE \(name)")
      postgresName = name
      url.database = name
      location = .postgres(url)
    }
  }

  deinit {
    try? FileManager.default.removeItem(at: directory)
    if let postgresName, let admin = Self.postgresAdminURL {
      try? Self.psql(admin, "DROP DATABASE IF EXISTS \(postgresName) WITH (FORCE)")
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

  /// Runs one SQL command through `psql` as the cluster's superuser.
  public static func psql(_ url: String, _ command: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["psql", url, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", command]
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      throw TestDatabaseError("psql -c \(command): \(message)")
    }
  }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
