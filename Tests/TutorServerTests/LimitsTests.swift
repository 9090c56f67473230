import Foundation
import GRPCCore
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport
import Tutoring

@Suite("Limits")
struct LimitsTests {
  @Test("A question longer than the token limit is refused before anything is stored")
  func questionTokenLimit() async throws {
    try await withTestServer {
      $0.limits.maxQuestionTokens = 50
    } body: { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "wordy"
            $0.curriculumID = "photosynthesis"
          }
        )
        // 120 characters, far under the character limit, but well over 50 tokens.
        let question = String(repeating: "🌱", count: 120)
        do {
          _ = try await tutor.askAll(
            .with {
              $0.sessionID = session.sessionID
              $0.question = question
            }
          )
          Issue.record("a question over the token limit was accepted")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument)
          #expect(error.message.contains("tokens long; at most 50"), "\(error.message)")
        }
        let fetched = try await tutor.getSession(.with { $0.sessionID = session.sessionID })
        #expect(fetched.turns.isEmpty)
      }
    }
  }
}
