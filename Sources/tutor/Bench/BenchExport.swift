import Analytics
import ArgumentParser
import Foundation
import TutorBench
import TutorStore

/// `tutor bench export`: export speed and memory on a made-up learning record.
struct BenchExport: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Export a generated learning record (default 1,000,000 turns) in every format.",
    discussion: """
      Writes a database of --turns completed turns (and half as many attempts) once, in --db (a
      SQLite file or an empty postgres:// database) or a temporary SQLite file, then exports all of it to /dev/null in each format, reporting rows per
      second and the process's peak resident memory after each (constant memory means it does not
      grow with the export).
      """
  )

  @Option(help: "Turns in the generated record (attempts: half as many).")
  var turns = 1_000_000

  @Option(
    help: ArgumentHelp(
      "Reuse (or fill, when empty) this database instead of a temporary one: a SQLite file or a postgres:// URL.",
      valueName: "path|url"
    )
  )
  var db: String?

  func run() async throws {
    let path =
      db
      ?? FileManager.default.temporaryDirectory.appendingPathComponent(
        "tutor-bench-export-\(UUID().uuidString).sqlite"
      )
      .path
    let location = try DatabaseLocation(parsing: path)
    let store = try await LearningRecordStore.open(location, connections: 2)
    if try await store.tableCounts()["turn"] == 0 {
      let start = Date()
      let sessions = max(1, turns / 20)
      let written = try await store.writeSyntheticHistory(
        students: max(1, sessions / 10),
        sessionsPerStudent: min(10, sessions),
        turnsPerSession: 20,
        attemptsPerSession: 10
      )
      print(
        "wrote \(written.turns) turns and \(written.attempts) attempts in "
          + String(format: "%.1f s", Date().timeIntervalSince(start))
      )
    }
    let sink = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/null"))
    for format in ExportFormat.allCases {
      let start = Date()
      var bytes = 0
      let records = try AnalyticsExporter.export(
        from: store,
        filter: ExportFilter(),
        format: format,
        options: ExportOptions()
      ) { chunk in
        bytes += chunk.count
        try sink.write(contentsOf: chunk)
      }
      let seconds = Date().timeIntervalSince(start)
      print(
        format.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
          + String(
            format: "%9d records in %6.2f s: %8.0f records/s, %6.1f MB, peak RSS %.0f MB",
            records,
            seconds,
            Double(records) / seconds,
            Double(bytes) / 1e6,
            Double(BenchEngine.peakResidentBytes()) / 1e6
          )
      )
    }
    if db == nil {
      for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
  }
}
