import Analytics
import ArgumentParser
import Curriculum
import Foundation
import TutorStore

extension ExportFormat: ExpressibleByArgument {}

/// Options shared by the commands that read a database directly.
struct ExportFilterOptions: ParsableArguments {
  @Option(help: "Records created at or after this time (ISO 8601, e.g. 2026-09-01 or 2026-09-01T08:00:00Z).")
  var since: String?

  @Option(help: "Records created before this time (ISO 8601).")
  var until: String?

  @Option(help: "Only this curriculum.")
  var curriculum: String?

  @Option(help: "Only this student.")
  var student: String?

  func filter() throws -> ExportFilter {
    ExportFilter(
      since: try since.map { try Self.date($0, option: "--since") },
      until: try until.map { try Self.date($0, option: "--until") },
      curriculumId: curriculum,
      studentId: student
    )
  }

  static func date(_ text: String, option: String) throws -> Date {
    let full = ISO8601DateFormatter()
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions.insert(.withFractionalSeconds)
    let day = ISO8601DateFormatter()
    day.formatOptions = [.withFullDate]
    if let date = full.date(from: text) ?? fractional.date(from: text) ?? day.date(from: text) { return date }
    throw ValidationError(
      "\(option) '\(text)' is not an ISO 8601 date or time (e.g. 2026-09-01 or 2026-09-01T08:00:00Z)"
    )
  }
}

/// `tutor export`: the learning record of a database as CSV, JSON Lines, xAPI or DataShop.
struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Export sessions, questions, explanations and attempts (CSV, JSON Lines, xAPI, DataShop).",
    discussion: """
      Reads the database directly (a separate read connection: safe while the server runs).
      CSV and JSON Lines have one row per turn and per attempt; xAPI one statement per turn
      (asked) and per attempt (answered); DataShop one transaction per attempt and per hint.
      """
  )

  @OptionGroup var database: DatabaseOptions

  @Option(help: "csv, jsonl, xapi or datashop.")
  var format: ExportFormat

  @OptionGroup var filter: ExportFilterOptions

  @Flag(help: "Leave question, answer and response text out.")
  var noText = false

  @Option(
    help: ArgumentHelp(
      "Replace student ids with HMAC-SHA256 pseudonyms under this secret (or $TUTOR_PSEUDONYM_SECRET with --pseudonymize).",
      valueName: "secret"
    )
  )
  var pseudonymSecret: String?

  @Flag(help: "Pseudonymise with the secret in $TUTOR_PSEUDONYM_SECRET.")
  var pseudonymize = false

  @Option(help: "The server's home page, for xAPI actor accounts and activity ids.")
  var homePage = "https://tutor.invalid"

  @Option(
    help: ArgumentHelp(
      "Folder of curricula, for the hints each exercise offers (DataShop's Total Num Hints).",
      valueName: "dir"
    )
  )
  var curricula: String?

  @Option(help: "Write here instead of standard output.")
  var out: String?

  func run() async throws {
    var secret = pseudonymSecret
    if pseudonymize, secret == nil {
      guard let value = ProcessInfo.processInfo.environment["TUTOR_PSEUDONYM_SECRET"], !value.isEmpty else {
        throw ValidationError(
          "--pseudonymize needs a secret in $TUTOR_PSEUDONYM_SECRET (or --pseudonym-secret)"
        )
      }
      secret = value
    }
    var hintCounts: [ExerciseKey: Int] = [:]
    if let curricula {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: curricula, isDirectory: &isDirectory),
        isDirectory.boolValue
      else { throw ValidationError("--curricula: no folder at \(curricula)") }
      hintCounts = ExportOptions.hintCounts(of: CurriculumLibrary.load(root: curricula).curricula)
    }
    let options = ExportOptions(
      includeText: !noText,
      pseudonymizer: secret.map(Pseudonymizer.init(secret:)),
      homePage: homePage,
      hintCounts: hintCounts
    )
    let store = try await database.open()
    defer { try? store.close() }
    let handle: FileHandle
    if let out {
      guard FileManager.default.createFile(atPath: out, contents: nil) else {
        throw ValidationError("cannot write \(out)")
      }
      handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    } else {
      handle = FileHandle.standardOutput
    }
    defer { if out != nil { try? handle.close() } }
    try AnalyticsExporter.export(from: store, filter: try filter.filter(), format: format, options: options) {
      try handle.write(contentsOf: $0)
    }
  }
}
