import Foundation
import GRDB

extension SQLiteRecords {
  func insertToken(_ token: StoredToken) async throws {
    try await pool.write { db in try token.insert(db) }
  }

  func token(id: String) async throws -> StoredToken? {
    try await pool.read { db in try StoredToken.fetchOne(db, key: id) }
  }

  func tokens(includeRevoked: Bool) async throws -> [StoredToken] {
    try await pool.read { db in
      try StoredToken.fetchAll(
        db,
        sql:
          "SELECT * FROM access_token \(includeRevoked ? "" : "WHERE revoked_at IS NULL") ORDER BY created_at, id"
      )
    }
  }

  func activeTokenCount() async throws -> Int {
    try await pool.read { db in
      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM access_token WHERE revoked_at IS NULL") ?? 0
    }
  }

  func revokeToken(id: String) async throws -> Bool {
    try await pool.write { db in
      try db.execute(
        sql: "UPDATE access_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        arguments: [self.now(), id]
      )
      return db.changesCount > 0
    }
  }
}

extension SQLiteRecords {
  func deleteTokens(ids: [String]) async throws {
    _ = try await pool.write { db in
      try StoredToken.deleteAll(db, keys: ids)
    }
  }

  func recordCounts(
    studentIdPrefix prefix: String
  ) async throws
    -> (sessions: Int, turns: Int, completedTurns: Int, attempts: Int)
  {
    try await pool.read { db in
      let pattern =
        prefix.replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
      func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql, arguments: [pattern]) ?? 0 }
      return (
        try count("SELECT COUNT(*) FROM session WHERE student_id LIKE ? ESCAPE '\\'"),
        try count(
          "SELECT COUNT(*) FROM turn JOIN session s ON s.id = turn.session_id WHERE s.student_id LIKE ? ESCAPE '\\'"
        ),
        try count(
          """
          SELECT COUNT(*) FROM turn JOIN session s ON s.id = turn.session_id
          WHERE s.student_id LIKE ? ESCAPE '\\' AND turn.status = 'completed'
          """
        ),
        try count("SELECT COUNT(*) FROM attempt WHERE student_id LIKE ? ESCAPE '\\'")
      )
    }
  }

  func tableCounts() async throws -> [String: Int] {
    try await pool.read { db in
      var counts: [String: Int] = [:]
      for table in RecordTables.all {
        counts[table] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0
      }
      return counts
    }
  }
}
