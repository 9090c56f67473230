import GRPCCore
import Logging
import SwiftProtobuf
import TutorAPI
import Tutoring

/// `tutor.v1.AnalyticsService`: learning records for teachers and researchers.
struct AnalyticsServiceHandler: Tutor_V1_AnalyticsService.SimpleServiceProtocol {
  let tutoring: TutoringService
  let logger: Logger

  func exportSessions(
    request: Tutor_V1_ExportSessionsRequest,
    response: RPCWriter<Tutor_V1_ExportChunk>,
    context: ServerContext
  ) async throws {
    // The export formats (CSV, JSON Lines, xAPI, DataShop) are the analytics issue's work.
    throw RPCError(
      code: .unimplemented,
      message: "ExportSessions is not available in this version of the server; use GetStudentProgress"
    )
  }

  func getStudentProgress(
    request: Tutor_V1_GetStudentProgressRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_StudentProgress {
    try await handling("GetStudentProgress", logger: logger) {
      let progress = try await tutoring.progress(
        studentId: request.studentID,
        curriculumId: request.curriculumID
      )
      return .with {
        $0.studentID = request.studentID
        $0.curricula = progress.map { p in
          .with {
            $0.curriculumID = p.curriculumId
            $0.mastery = p.mastery.map(Tutor_V1_ObjectiveMastery.init)
            $0.lessonsCompleted = p.lessonsCompleted
            $0.attempts = Int32(p.attempts)
            $0.correctAttempts = Int32(p.correctAttempts)
            $0.hintsUsed = Int32(p.hintsUsed)
            $0.questionsAsked = Int32(p.questionsAsked)
            $0.timeSpent = .init(p.timeSpent)
            if let last = p.lastActiveAt { $0.lastActiveAt = .init(date: last) }
          }
        }
      }
    }
  }
}
