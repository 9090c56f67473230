import Foundation
import GRDB

// Deleting a student and everything recorded about them, on a privacy request.
extension SQLiteRecords {
  /// Removes a student and everything recorded about them, in one transaction.
  func deleteStudentData(studentId: String) async throws -> LearningRecordStore.DeletionReport {
    try await write("deleteStudentData") { db in
      func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql, arguments: [studentId]) ?? 0 }
      var report = LearningRecordStore.DeletionReport(
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
