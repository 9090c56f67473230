import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport
import Tutoring

/// The server with the sentence encoder the test command fetches: SearchSnippets and Ask find
/// the note a student's own words mean, as a gRPC client sees them.
@Suite("Hybrid retrieval over gRPC")
struct HybridSearchServerTests {
  @Test("SearchSnippets and Ask use BM25 fused with the encoder")
  func studentsWordsFindTheRightNote() async throws {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent(
      "hybrid-rpc-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: cache) }
    try await withTestServer { configuration in
      configuration.encoderDirectory = Repository.root.appendingPathComponent("models/all-MiniLM-L6-v2").path
      configuration.embeddingCacheFolder = cache.path
    } body: { server in
      try await server.withClient { client in
        let curricula = Tutor_V1_CurriculumService.Client(wrapping: client)
        let question = "my teacher said I have to cancel it down"
        let target = "fractions-ratios/equivalent-fractions#simplifying-fractions"
        let hits = try await curricula.searchSnippets(
          .with {
            $0.query = question
            $0.curriculumID = "fractions-ratios"
            $0.limit = 3
          }
        )
        // In the top three (what recall@3 counts): the course teaches cancelling in two notes, and
        // "cancelling before you multiply" may rank first.
        #expect(hits.hits.map(\.snippetID).contains(target), "\(hits.hits.map(\.snippetID))")

        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "student-hybrid"
            $0.curriculumID = "fractions-ratios"
          }
        )
        let transcript = try await tutor.askAll(
          .with {
            $0.sessionID = session.sessionID
            $0.question = question
            $0.options = .with { $0.maxNewTokens = 4 }
          }
        )
        let completed = try #require(transcript.completed)
        #expect(completed.snippetIds.contains(target), "\(completed.snippetIds)")
      }
    }
    // The snippets' vectors were cached for the next start.
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: cache.path).contains { $0.hasSuffix(".embeddings") }
    )
  }
}
