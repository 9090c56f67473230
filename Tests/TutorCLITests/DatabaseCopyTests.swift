import Foundation
import Testing
import TutorStore
import TutorTestSupport

/// `tutor db copy`: a deployment's record moved SQLite → PostgreSQL → SQLite arrives whole, and a
/// target that already holds records is refused.
@Suite(
  .enabled(if: TestDatabase.postgresAdminURL != nil, "needs the test PostgreSQL cluster (tools/test.sh)")
)
struct DatabaseCopyTests {
  @Test func aRecordSurvivesARoundTripThroughPostgreSQL() async throws {
    let (original, directory) = try AnalyticsCLITests.makeDatabase()
    defer { try? FileManager.default.removeItem(at: directory) }
    // Tokens, mastery and its history too, not only turns and attempts.
    _ = try ServeCLITests.token(database: original, role: "admin")
    _ = try ServeCLITests.token(database: original, role: "student", extra: ["--student", "s-1"])
    let store = try LearningRecordStore(path: original)
    let session = try await store.startSession(studentId: "s-1", curriculumId: "c", lessonId: "l")
    try await store.recordAttempt(
      StoredAttempt(
        id: "a-1",
        sessionId: session.id,
        studentId: "s-1",
        curriculumId: "c",
        lessonId: "l",
        exerciseId: "e",
        objectiveId: "o",
        answer: "3/4",
        correct: true,
        hintsRevealed: 0,
        createdAtMs: 1
      ),
      mastery: 0.7
    )
    try store.close()

    let postgres = try await TestDatabase.make(.postgres)
    let there = try TutorCLI.run(["db", "copy", "--from", original, "--to", postgres.argument])
    #expect(there.status == 0, "\(there.stderr)")
    #expect(
      there.stdout.contains("turn            400") && there.stdout.contains("access_token    2"),
      "\(there.stdout)"
    )
    #expect(there.stdout.contains("mastery         1") && there.stdout.contains("mastery_history 1"))

    let back = directory.appendingPathComponent("back.sqlite").path
    let returned = try TutorCLI.run(["db", "copy", "--from", postgres.argument, "--to", back])
    #expect(returned.status == 0, "\(returned.stderr)")
    #expect(returned.stdout == there.stdout)

    // What an export reads, and what a student's record holds, is the same in all three.
    for format in ["jsonl", "datashop"] {
      let exports = try [original, postgres.argument, back].map { db in
        let export = try TutorCLI.run(["export", "--db", db, "--format", format])
        #expect(export.status == 0, "\(export.stderr)")
        return export.stdout
      }
      #expect(!exports[0].isEmpty && exports[1] == exports[0] && exports[2] == exports[0], "\(format)")
    }
    let copied = try await LearningRecordStore.open(.postgres(try #require(postgresURL(postgres))))
    #expect(try await copied.mastery(studentId: "s-1").map(\.probability) == [0.7])
    #expect(try await copied.tokens().count == 2)

    // A target with records is refused, and left as it was.
    let again = try TutorCLI.run(["db", "copy", "--from", original, "--to", postgres.argument])
    #expect(again.status != 0 && again.stderr.contains("not empty"), "\(again.stderr)")
    #expect(try await copied.tableCounts()["turn"] == 400)
  }

  func postgresURL(_ database: TestDatabase) -> DatabaseLocation.PostgresURL? {
    if case .postgres(let url) = database.location { return url }
    return nil
  }
}
