import ArgumentParser
import Foundation
import TutorStore

/// `tutor db`: the learning record's database itself.
struct DatabaseCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "db",
    abstract: "Move the learning record between databases.",
    subcommands: [Copy.self]
  )

  struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Copy every record from one database into an empty other (SQLite ↔ PostgreSQL).",
      discussion: """
        Reads the source in one snapshot and writes the target in batches, then checks that every
        table holds as many rows in both. The target must be empty (a new SQLite file, or a new
        PostgreSQL database; its schema is created). Stop the servers first: what they write after
        the copy began is not copied. A copy that fails leaves a partial target: empty it and run
        again.

          tutor db copy --from data/tutor.sqlite --to postgres://tutor:secret@db:5432/tutor
        """
    )

    @Option(
      help: ArgumentHelp("The database to copy: a SQLite file or a postgres:// URL.", valueName: "path|url")
    )
    var from: String

    @Option(help: ArgumentHelp("An empty database to copy into (created if missing).", valueName: "path|url"))
    var to: String

    @Option(help: "Rows written per transaction.") var batchSize = 500

    func validate() throws {
      guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
      for text in [from, to] {
        do {
          _ = try DatabaseLocation(parsing: text)
        } catch let error as DatabaseLocationError {
          throw ValidationError(error.description)
        }
      }
    }

    func run() async throws {
      let (sourceLocation, targetLocation) = (
        try DatabaseLocation(parsing: from), try DatabaseLocation(parsing: to)
      )
      if let path = sourceLocation.path, !FileManager.default.fileExists(atPath: path) {
        throw ValidationError("--from: no database at \(path)")
      }
      guard sourceLocation != targetLocation else {
        throw ValidationError("--from and --to are the same database")
      }
      do {
        let source = try await LearningRecordStore.open(sourceLocation, connections: 2)
        defer { try? source.close() }
        let target = try await LearningRecordStore.open(targetLocation, connections: 2)
        defer { try? target.close() }
        let start = Date()
        let copied = try await LearningRecordStore.copy(from: source, to: target, batchSize: batchSize) {
          table,
          rows in
          if rows % 10_000 == 0 { Console.error("\(table): \(rows) rows") }
        }
        let seconds = Date().timeIntervalSince(start)
        for table in ["student", "session", "turn", "attempt", "mastery", "mastery_history", "access_token"] {
          print(table.padding(toLength: 16, withPad: " ", startingAt: 0) + "\(copied[table] ?? 0)")
        }
        Console.error(
          "copied \(copied.values.reduce(0, +)) rows from \(sourceLocation) to \(targetLocation) in "
            + String(format: "%.1f s", seconds) + "; every table's count matches"
        )
      } catch let error as TutorStoreError {
        Console.error("error: \(error)")
        throw ExitCode.failure
      }
    }
  }
}
