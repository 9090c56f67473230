import Foundation
import Testing
import TutorTestSupport

/// `tutor export` and `tutor stats` on a database the CLI itself fills (`tutor bench export`):
/// the two agree with each other, and bad input is refused with a message, not a crash.
@Suite struct AnalyticsCLITests {
  /// 400 turns and 200 attempts in 20 sessions of 2 students (the bench's synthetic record).
  static func makeDatabase() throws -> (path: String, directory: URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cli-export-\(UUID().uuidString)"
    )
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("tutor.sqlite").path
    let bench = try TutorCLI.run(["bench", "export", "--turns", "400", "--db", path])
    #expect(bench.status == 0, "\(bench.stderr)")
    #expect(bench.stdout.contains("wrote 400 turns and 200 attempts"))
    return (path, directory)
  }

  @Test func exportAndStatsAgree() throws {
    let (db, directory) = try Self.makeDatabase()
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("record.csv").path
    let export = try TutorCLI.run(["export", "--db", db, "--format", "csv", "--out", out])
    #expect(export.status == 0, "\(export.stderr)")
    let csv = try String(contentsOfFile: out, encoding: .utf8)
    let rows = csv.split(separator: "\r\n").dropFirst()
    #expect(rows.count == 600)
    let attempts = rows.filter { $0.hasPrefix("attempt,") }
    #expect(attempts.count == 200)

    let stats = try TutorCLI.run(["stats", "--db", db, "--json"])
    #expect(stats.status == 0, "\(stats.stderr)")
    let json = try CLITests.json(stats.stdout)
    #expect(json["questions"] as? Int == rows.count - attempts.count)
    #expect(json["attempts"] as? Int == attempts.count)
    #expect(json["correct_attempts"] as? Int == attempts.filter { $0.contains(",true,") }.count)
    #expect(json["sessions"] as? Int == 20 && json["active_students"] as? Int == 2)

    // One curriculum, to standard output, as DataShop: one transaction per attempt and per hint.
    let c0 = try TutorCLI.run(["export", "--db", db, "--format", "datashop", "--curriculum", "c0"])
    #expect(c0.status == 0, "\(c0.stderr)")
    let transactions = c0.stdout.split(separator: "\n").dropFirst()
    let c0Stats = try CLITests.json(
      TutorCLI.run(["stats", "--db", db, "--json", "--curriculum", "c0"]).stdout
    )
    let c0Attempts = try #require(c0Stats["attempts"] as? Int)
    #expect(c0Attempts > 0 && c0Attempts < 200)
    #expect(transactions.count == c0Attempts + (c0Stats["hints_revealed"] as? Int ?? -1))
    #expect(
      transactions.allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 30 }
    )

    let table = try TutorCLI.run(["stats", "--db", db])
    #expect(
      table.status == 0 && table.stdout.contains("Per lesson") && table.stdout.contains("Hardest exercises")
    )
  }

  @Test func badInputIsRefusedWithAMessage() throws {
    let (db, directory) = try Self.makeDatabase()
    defer { try? FileManager.default.removeItem(at: directory) }
    let missing = try TutorCLI.run([
      "export", "--db", directory.appendingPathComponent("nope.sqlite").path, "--format", "csv",
    ])
    #expect(missing.status != 0 && missing.stderr.contains("no database at"))
    let format = try TutorCLI.run(["export", "--db", db, "--format", "xls"])
    #expect(format.status != 0 && format.stderr.contains("xls"))
    let since = try TutorCLI.run(["stats", "--db", db, "--since", "yesterday"])
    #expect(since.status != 0 && since.stderr.contains("--since 'yesterday' is not an ISO 8601 date"))
    let secret = try TutorCLI.run(["export", "--db", db, "--format", "csv", "--pseudonymize"])
    #expect(secret.status != 0 && secret.stderr.contains("TUTOR_PSEUDONYM_SECRET"))
    let curricula = try TutorCLI.run([
      "export", "--db", db, "--format", "datashop", "--curricula", "/nonexistent",
    ])
    #expect(curricula.status != 0 && curricula.stderr.contains("--curricula"))
  }
}
