import Foundation
import GRDB

// Writing records as they are: imports, copies between databases, and made-up data for
// benchmarks.
extension SQLiteRecords {
  /// Stores `batch` in one transaction (all of it or nothing): students first (one already
  /// stored is kept), then sessions, turns and attempts, which must refer to students and
  /// sessions stored by now.
  func insert(_ batch: LearningRecordStore.RecordBatch) async throws {
    try await write("insertBatch") { db in
      for student in batch.students {
        try db.execute(
          sql: "INSERT OR IGNORE INTO student (id, created_at) VALUES (?, ?)",
          arguments: [student.id, student.createdAtMs]
        )
      }
      for session in batch.sessions { try session.insert(db) }
      for turn in batch.turns { try turn.insert(db) }
      for attempt in batch.attempts { try attempt.insert(db) }
    }
  }
}
