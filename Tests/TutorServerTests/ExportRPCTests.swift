import Analytics
import Curriculum
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

/// `AnalyticsService.ExportSessions` streams what `tutor export` writes, and refuses bad requests.
@Suite("ExportSessions over gRPC")
struct ExportRPCTests {
  static func exportAll(
    _ analytics: Tutor_V1_AnalyticsService.Client<HTTP2ClientTransport.Posix>,
    _ request: Tutor_V1_ExportSessionsRequest,
    metadata: Metadata = [:]
  ) async throws -> (data: Data, contentTypes: [String]) {
    try await analytics.exportSessions(request, metadata: metadata) { response in
      var data = Data()
      var types: [String] = []
      for try await chunk in response.messages {
        data.append(chunk.data)
        types.append(chunk.contentType)
      }
      return (data, types)
    }
  }

  @Test func exportsMatchTheLibraryAndBadRequestsAreRefused() async throws {
    let database = TestServer.scratchDatabase()
    try await withTestServer(database: database) {
      $0.exports.pseudonymSecret = "rpc-secret"
    } body: { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let analytics = Tutor_V1_AnalyticsService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "student-export"
            $0.curriculumID = "photosynthesis"
          }
        )
        let lesson = try #require(
          CurriculumLibrary.load(root: Repository.curricula).curriculum("photosynthesis")?.lessons.first {
            !$0.exercises.isEmpty
          }
        )
        let exercise = try #require(lesson.exercises.first { !$0.hints.isEmpty })
        for answer in ["zzz, \"not\" an answer", "still\nwrong"] {
          _ = try await tutor.submitAnswer(
            .with {
              $0.sessionID = session.sessionID
              $0.exerciseID = exercise.id
              $0.answer = answer
            }
          )
        }
        let store = server.server.tutoring.store
        // The server fills in DataShop's Total Num Hints from its curricula.
        let hintCounts = ExportOptions.hintCounts(of: server.server.tutoring.catalog.snapshot.curricula)
        #expect(hintCounts.count > 1)
        for (format, proto) in [
          (ExportFormat.csv, Tutor_V1_ExportFormat.csv), (.jsonl, .jsonl), (.xapi, .xapi),
          (.datashop, .datashop),
        ] {
          let (data, types) = try await Self.exportAll(analytics, .with { $0.format = proto })
          #expect(types.first == format.contentType)
          var expected = Data()
          try AnalyticsExporter.export(
            from: store,
            filter: ExportFilter(),
            format: format,
            options: ExportOptions(hintCounts: hintCounts)
          ) {
            expected.append($0)
          }
          #expect(data == expected, "\(format)")
          #expect(String(decoding: data, as: UTF8.self).contains("student-export"), "\(format)")
          if format == .datashop {
            #expect(String(decoding: data, as: UTF8.self).contains("\t\(exercise.hints.count)\t"))
          }
        }
        // Pseudonymised, without text, one student.
        let (pseudonymised, _) = try await Self.exportAll(
          analytics,
          .with {
            $0.format = .jsonl
            $0.pseudonymize = true
            $0.excludeText = true
            $0.studentID = "student-export"
          }
        )
        let text = String(decoding: pseudonymised, as: UTF8.self)
        #expect(text.split(separator: "\n").count == 2)
        #expect(!text.contains("student-export") && !text.contains("not\\\" an answer"))
        #expect(text.contains(Pseudonymizer(secret: "rpc-secret").pseudonym(for: "student-export")))

        do {
          _ = try await Self.exportAll(analytics, .with { $0.format = .unspecified })
          Issue.record("an unspecified format was accepted")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument && error.message.contains("format"))
        }
        do {
          _ = try await Self.exportAll(
            analytics,
            .with {
              $0.format = .csv
              $0.since = Google_Protobuf_Timestamp(date: Date())
              $0.until = Google_Protobuf_Timestamp(date: Date(timeIntervalSinceNow: -60))
            }
          )
          Issue.record("until before since was accepted")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument)
        }
      }
    }
    // A server without a secret refuses to pseudonymise.
    try await withTestServer(database: database) { plain in
      try await plain.withClient { client in
        let analytics = Tutor_V1_AnalyticsService.Client(wrapping: client)
        do {
          _ = try await Self.exportAll(
            analytics,
            .with {
              $0.format = .csv
              $0.pseudonymize = true
            }
          )
          Issue.record("pseudonymize without a secret was accepted")
        } catch let error as RPCError {
          #expect(error.code == .failedPrecondition && error.message.contains("pseudonym"))
        }
      }
    }
  }
}
