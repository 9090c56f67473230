import Foundation
import GRDB

// Attempts at exercises and the mastery estimates they update, in one transaction.
extension SQLiteRecords {
  /// Stores a graded attempt and updates the mastery of its objective from the stored estimate
  /// (nil before the first attempt) in the same transaction, so concurrent attempts never lose
  /// an update. Returns the new estimate (nil when the attempt has no objective or `update`
  /// returns nil).
  func recordAttempt(
    _ attempt: StoredAttempt,
    updateMastery update: @escaping @Sendable (Double?) -> Double?
  ) async throws -> Double? {
    try await write("recordAttempt") { db in
      try attempt.insert(db)
      guard let objective = attempt.objectiveId else { return nil }
      let previous = try StoredMastery.fetchOne(
        db,
        key: [
          "student_id": attempt.studentId, "curriculum_id": attempt.curriculumId, "objective_id": objective,
        ]
      )
      guard let mastery = update(previous?.probability) else { return nil }
      try StoredMastery(
        studentId: attempt.studentId,
        curriculumId: attempt.curriculumId,
        objectiveId: objective,
        probability: mastery,
        updatedAtMs: attempt.createdAtMs
      ).save(db)
      try db.execute(
        sql: """
          INSERT INTO mastery_history (student_id, curriculum_id, objective_id, probability, attempt_id, created_at)
          VALUES (?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          attempt.studentId, attempt.curriculumId, objective, mastery, attempt.id, attempt.createdAtMs,
        ]
      )
      return mastery
    }
  }

  /// Attempts at one exercise in a session so far: all of them and the wrong ones.
  func attemptCounts(sessionId: String, exerciseId: String) async throws -> (total: Int, wrong: Int) {
    try await pool.read { db in
      let row = try Row.fetchOne(
        db,
        sql:
          "SELECT COUNT(*), COALESCE(SUM(NOT correct), 0) FROM attempt WHERE session_id = ? AND exercise_id = ?",
        arguments: [sessionId, exerciseId]
      )
      return (row?[0] ?? 0, row?[1] ?? 0)
    }
  }

  /// A student's mastery estimates, optionally in one curriculum.
  func mastery(studentId: String, curriculumId: String?) async throws -> [StoredMastery] {
    try await pool.read { db in
      var request = StoredMastery.filter(StoredMastery.Columns.studentId == studentId)
      if let curriculumId { request = request.filter(StoredMastery.Columns.curriculumId == curriculumId) }
      return try request.order(StoredMastery.Columns.curriculumId, StoredMastery.Columns.objectiveId)
        .fetchAll(db)
    }
  }
}
