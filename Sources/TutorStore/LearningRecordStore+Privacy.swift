import Foundation
import GRDB

// Deleting a student and everything recorded about them, on a privacy request.
extension LearningRecordStore {
  /// What ``deleteStudentData(studentId:)`` removed.
  public struct DeletionReport: Sendable, Equatable {
    /// Whether the student was known at all (had a session or a token).
    public var found = false
    public var sessions = 0
    public var turns = 0
    public var attempts = 0
    public var masteryRecords = 0
    /// The student's access tokens, deleted with the rest.
    public var tokens = 0
  }

  /// Removes a student and everything recorded about them, in one transaction.
  public func deleteStudentData(studentId: String) async throws -> DeletionReport {
    try await write("deleteStudentData") { db in
      func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql, arguments: [studentId]) ?? 0 }
      var report = DeletionReport(
        sessions: try count("SELECT COUNT(*) FROM session WHERE student_id = ?"),
        turns: try count(
          "SELECT COUNT(*) FROM turn JOIN session ON session.id = turn.session_id WHERE student_id = ?"
        ),
        attempts: try count("SELECT COUNT(*) FROM attempt WHERE student_id = ?"),
        masteryRecords: try count("SELECT COUNT(*) FROM mastery WHERE student_id = ?")
          + count("SELECT COUNT(*) FROM mastery_history WHERE student_id = ?"),
        tokens: try count("SELECT COUNT(*) FROM access_token WHERE student_id = ?")
      )
      let studentRows = try count("SELECT COUNT(*) FROM student WHERE id = ?")
      report.found = report.tokens > 0 || studentRows > 0
      // Foreign keys cascade from the student to everything else; tokens have no foreign key.
      try db.execute(sql: "DELETE FROM student WHERE id = ?", arguments: [studentId])
      try db.execute(sql: "DELETE FROM access_token WHERE student_id = ?", arguments: [studentId])
      return report
    }
  }
}
