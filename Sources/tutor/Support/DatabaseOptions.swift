import ArgumentParser
import Foundation
import TutorStore

/// `--db`: the learning record, a SQLite file or a PostgreSQL URL, for every command that reads or
/// writes it.
struct DatabaseOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "The learning record: a SQLite file (created on first start) or postgres://user:password@host:port/database (default: $TUTOR_DATABASE_URL, else $TUTOR_DATA_DIR, $XDG_DATA_HOME/tutor or ~/.local/share/tutor, + /tutor.sqlite).",
      valueName: "path|url"
    )
  )
  var db: String?

  @Option(
    name: .customLong("db-connections"),
    help: "PostgreSQL connections this process may hold (its pool's size)."
  )
  var dbConnections = 8

  func validate() throws {
    guard dbConnections >= 1 else { throw ValidationError("--db-connections must be at least 1") }
    _ = try location
  }

  /// `--db`, else `$TUTOR_DATABASE_URL`, else the default file.
  var location: DatabaseLocation {
    get throws {
      let text =
        db ?? ProcessInfo.processInfo.environment["TUTOR_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        ?? Serve.defaultDatabase()
      do {
        return try DatabaseLocation(parsing: text)
      } catch let error as DatabaseLocationError {
        throw ValidationError(error.description)
      }
    }
  }

  /// Opens the record, creating it when `create` (a server's first start, a new token); else a
  /// missing SQLite file is an error rather than an empty new database.
  func open(create: Bool = false) async throws -> LearningRecordStore {
    let location = try location
    if !create, let path = location.path, !FileManager.default.fileExists(atPath: path) {
      Console.error("error: no database at \(path)")
      throw ExitCode.failure
    }
    do {
      return try await LearningRecordStore.open(location, connections: dbConnections)
    } catch let error as TutorStoreError {
      // One line that says what is wrong (the server, the role, the database), without usage.
      Console.error("error: \(error)")
      throw ExitCode.failure
    }
  }
}
