import GRPCCore
import Logging
import SwiftProtobuf
import TutorAPI
import Tutoring

/// `tutor.v1.AdminService`: privacy requests (admin tokens only; see ``AccessPolicy``).
struct AdminServiceHandler: Tutor_V1_AdminService.SimpleServiceProtocol {
  let tutoring: TutoringService
  let logger: Logger

  func deleteStudentData(
    request: Tutor_V1_DeleteStudentDataRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_DeleteStudentDataResponse {
    let report = try await tutoring.deleteStudentData(
      by: try Principal.required(),
      studentId: request.studentID
    )
    return .with {
      $0.studentID = request.studentID
      $0.sessions = Int32(report.sessions)
      $0.turns = Int32(report.turns)
      $0.attempts = Int32(report.attempts)
      $0.masteryRecords = Int32(report.masteryRecords)
      $0.tokens = Int32(report.tokens)
    }
  }
}
