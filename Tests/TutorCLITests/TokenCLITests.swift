import Foundation
import Testing
import TutorTestSupport

/// `tutor token` and `tutor student delete`, on a database directly.
@Suite struct TokenCLITests {
  @Test func createListRevoke() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cli-token-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: directory) }
    let db = directory.appendingPathComponent("tutor.sqlite").path
    let admin = try ServeCLITests.token(database: db, role: "admin", extra: ["--label", "ops"])
    #expect(admin.hasPrefix("tutor_"))
    let student = try TutorCLI.run([
      "token", "create", "--db", db, "--role", "student", "--student", "s-1", "--json",
    ])
    #expect(student.status == 0, "\(student.stderr)")
    let record = try CLITests.json(student.stdout)
    #expect(record["role"] as? String == "student" && record["student_id"] as? String == "s-1")
    let id = try #require(record["id"] as? String)
    #expect((record["token"] as? String)?.hasPrefix("tutor_\(id)_") == true)

    let noStudent = try TutorCLI.run(["token", "create", "--db", db, "--role", "student"])
    #expect(noStudent.status != 0 && noStudent.stderr.contains("--student"))
    let badRole = try TutorCLI.run(["token", "create", "--db", db, "--role", "root"])
    #expect(badRole.status != 0 && badRole.stderr.contains("root"))

    let list = try TutorCLI.run(["token", "list", "--db", db])
    #expect(list.stdout.split(separator: "\n").count == 2)
    #expect(list.stdout.contains("\"ops\"") && list.stdout.contains("student=s-1"))
    #expect(!list.stdout.contains(admin.suffix(20)), "secrets are never listed")

    #expect(try TutorCLI.run(["token", "revoke", "--db", db, id]).status == 0)
    let again = try TutorCLI.run(["token", "revoke", "--db", db, id])
    #expect(again.status != 0 && again.stderr.contains("no active token"))
    #expect(try TutorCLI.run(["token", "list", "--db", db]).stdout.split(separator: "\n").count == 1)
    let all = try TutorCLI.run(["token", "list", "--db", db, "--all", "--json"])
    let tokens = try #require(
      try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]]
    )
    #expect(tokens.count == 2 && tokens.contains { $0["id"] as? String == id && $0["revoked_at"] != nil })
  }

  @Test func studentDeleteSaysWhatWentAndThenFindsNothing() throws {
    let (db, directory) = try AnalyticsCLITests.makeDatabase()
    defer { try? FileManager.default.removeItem(at: directory) }
    _ = try ServeCLITests.token(database: db, role: "student", extra: ["--student", "student-0"])
    let deleted = try TutorCLI.run(["student", "delete", "--db", db, "student-0", "--json"])
    #expect(deleted.status == 0, "\(deleted.stderr)")
    let report = try CLITests.json(deleted.stdout)
    // The synthetic record: 2 students with 10 sessions each of 20 turns and 10 attempts.
    #expect(
      report["sessions"] as? Int == 10 && report["turns"] as? Int == 200 && report["attempts"] as? Int == 100
    )
    #expect(report["tokens"] as? Int == 1)
    let again = try TutorCLI.run(["student", "delete", "--db", db, "student-0"])
    #expect(again.status != 0 && again.stderr.contains("nothing is stored about student 'student-0'"))
    let stats = try CLITests.json(TutorCLI.run(["stats", "--db", db, "--json"]).stdout)
    #expect(stats["active_students"] as? Int == 1 && stats["attempts"] as? Int == 100)
  }
}
