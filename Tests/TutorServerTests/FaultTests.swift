import Foundation
import GRDB
import GRPCCore
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport

@testable import TutorStore
@testable import Tutoring

@Suite("Faults: a full disk, an unreadable database")
struct FaultTests {
  @Test(
    "Disk full: writes get UNAVAILABLE with a message and leave nothing behind; reads go on; then it recovers"
  )
  func diskFullIsAStatusNotACrash() async throws {
    try await withTestServer { server in
      let store = server.server.tutoring.store
      // SQLite's page limit on the writer connection stands in for a full disk (SQLITE_FULL).
      func limitPages(_ pages: String) async throws {
        try await #require(store.engine as? SQLiteRecords).pool.writeWithoutTransaction { db in
          let current = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
          try db.execute(sql: "PRAGMA max_page_count = \(pages == "current" ? "\(current)" : pages)")
        }
      }
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "full-disk"
            $0.curriculumID = "photosynthesis"
          }
        )
        try await limitPages("current")
        var refused = 0
        // Enough new rows to need a new page.
        for _ in 0 ..< 200 {
          do {
            _ = try await tutor.startSession(
              .with {
                $0.studentID = "full-disk-" + String(repeating: "x", count: 100)
                $0.curriculumID = "photosynthesis"
              }
            )
          } catch let error as RPCError {
            #expect(error.code == .unavailable, "\(error)")
            #expect(
              error.message.contains("cannot store anything now") && error.message.contains("full"),
              "\(error.message)"
            )
            refused += 1
            break
          }
        }
        #expect(refused == 1, "the page limit never filled")
        // Reads still work.
        let fetched = try await tutor.getSession(.with { $0.sessionID = session.sessionID })
        #expect(fetched.sessionID == session.sessionID)
        try await limitPages("1073741823")
        _ = try await tutor.startSession(
          .with {
            $0.studentID = "after"
            $0.curriculumID = "photosynthesis"
          }
        )
      }
      #expect(try store.integrityCheck() == "ok")
    }
  }

  @Test("A file that is not a database is refused at start-up with its path")
  func notADatabase() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fault-\(UUID().uuidString)"
    )
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("tutor.sqlite").path
    try Data(String(repeating: "not sqlite ", count: 100).utf8).write(to: URL(fileURLWithPath: path))
    #expect {
      _ = try LearningRecordStore(path: path)
    } throws: { error in
      guard case TutorStoreError.cannotOpen(let failing, let reason) = error else { return false }
      return failing == path && reason.contains("not a database")
    }
  }
}
