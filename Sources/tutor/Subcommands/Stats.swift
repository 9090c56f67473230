import Analytics
import ArgumentParser
import Foundation
import TutorStore

/// `tutor stats`: a summary of a database's learning record.
struct Stats: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Summarise the learning record: sessions, students, questions, accuracy, latency.",
    discussion: """
      Reads the database directly (a separate read connection: safe while the server runs).
      Prints sessions, active students, questions asked, answers and accuracy per lesson, the
      hardest exercises, and the median latency and tokens per answer, as tables or (--json) as
      one JSON object.
      """
  )

  @OptionGroup var database: DatabaseOptions

  @OptionGroup var filter: ExportFilterOptions

  @Option(help: "How many of the hardest exercises to list.")
  var hardest = 5

  @Flag(help: "Print one JSON object instead of tables.")
  var json = false

  func validate() throws {
    guard hardest >= 0 else { throw ValidationError("--hardest must be 0 or more") }
  }

  func run() async throws {
    let store = try await database.open()
    defer { try? store.close() }
    let statistics = try await store.statistics(try filter.filter(), hardestExercises: hardest)
    print(json ? try StatisticsReport.json(statistics) : StatisticsReport.table(statistics), terminator: "")
  }
}
