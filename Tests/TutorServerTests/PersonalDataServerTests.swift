import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorStore
import TutorTestSupport

@testable import Tutoring

/// A child types an email address and a phone number into a question and an exercise answer:
/// neither reaches the database, nor an export.
@Suite struct PersonalDataServerTests {
  static let email = "maya.p2014@example.com"
  static let phone = "07700 900123"

  @Test func personalDataIsRedactedBeforeStorageAndExport() async throws {
    try await withTestServer { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let analytics = Tutor_V1_AnalyticsService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "student-pii"
            $0.curriculumID = "photosynthesis"
          }
        )
        let streamed = try await tutor.ask(
          .with {
            $0.sessionID = session.sessionID
            $0.question = "my email is \(Self.email) and my phone is \(Self.phone), why are leaves green?"
            $0.options.maxNewTokens = 8
          }
        ) { response in
          var events = 0
          for try await _ in response.messages { events += 1 }
          return events
        }
        #expect(streamed > 1)
        let exercise = try #require(
          server.server.tutoring.catalog.snapshot.curriculum("photosynthesis")?.lessons
            .flatMap(\.exercises).first
        )
        _ = try await tutor.submitAnswer(
          .with {
            $0.sessionID = session.sessionID
            $0.exerciseID = exercise.id
            $0.answer = "idk, email me at \(Self.email)"
          }
        )

        // The database holds the redacted question and answer.
        let store = server.server.tutoring.store
        let turns = try await store.turns(sessionId: session.sessionID)
        #expect(
          turns.map(\.question) == ["my email is [email] and my phone is [phone], why are leaves green?"]
        )
        let attempts = try await store.activity(studentId: "student-pii").attempts
        #expect(attempts.map(\.answer) == ["idk, email me at [email]"])

        // So does every export format.
        for format in [Tutor_V1_ExportFormat.csv, .jsonl, .xapi, .datashop] {
          let (data, _) = try await ExportRPCTests.exportAll(analytics, .with { $0.format = format })
          let text = String(decoding: data, as: UTF8.self)
          #expect(!text.isEmpty && !text.contains(Self.email) && !text.contains("900123"), "\(format)")
        }
        // And GetSession, which a teacher reads.
        let shown = try await tutor.getSession(.with { $0.sessionID = session.sessionID })
        #expect(shown.turns.first?.question.contains("[email]") == true)
      }
    }
  }
}
