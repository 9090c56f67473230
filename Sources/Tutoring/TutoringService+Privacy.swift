import Logging
import TutorStore

extension TutoringService {
  /// Deletes everything stored about a student — sessions, turns, attempts, mastery, tokens — on
  /// a privacy request. NOT_FOUND when nothing was stored about them.
  public func deleteStudentData(
    by caller: Principal,
    studentId: String
  ) async throws -> LearningRecordStore.DeletionReport {
    try caller.authorize(.deleteStudentData)
    guard !studentId.isEmpty else { throw TutoringError.invalidArgument("student_id is required") }
    try checkIdentifier(studentId, field: "student_id")
    let report = try await store.deleteStudentData(studentId: studentId)
    guard report.found else {
      throw TutoringError.notFound("nothing is stored about student '\(studentId)'")
    }
    // Who asked and how much went, for the audit trail.
    logger.notice(
      "deleted a student's data",
      metadata: [
        "student": "\(studentId)", "token": "\(caller.tokenId)",
        "sessions": "\(report.sessions)", "turns": "\(report.turns)", "attempts": "\(report.attempts)",
      ]
    )
    return report
  }
}
