import Foundation
import GRDB

/// An access token as stored: who it lets in, never the token itself (only a SHA-256 of its
/// secret part).
public struct StoredToken: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "access_token"

  public var id: String
  public var secretSHA256: Data
  /// `student`, `teacher`, `author`, `analyst` or `admin`.
  public var role: String
  /// The one student a `student` token acts for.
  public var studentId: String?
  /// The curricula a `teacher` or `author` token covers; empty: all.
  public var curricula: [String]
  /// A note for people (who or what the token is for).
  public var label: String
  public var createdAtMs: Int64
  public var revokedAtMs: Int64?

  public init(
    id: String,
    secretSHA256: Data,
    role: String,
    studentId: String?,
    curricula: [String],
    label: String,
    createdAtMs: Int64,
    revokedAtMs: Int64? = nil
  ) {
    self.id = id
    self.secretSHA256 = secretSHA256
    self.role = role
    self.studentId = studentId
    self.curricula = curricula
    self.label = label
    self.createdAtMs = createdAtMs
    self.revokedAtMs = revokedAtMs
  }

  enum CodingKeys: String, CodingKey {
    case id, role, curricula, label
    case secretSHA256 = "secret_sha256"
    case studentId = "student_id"
    case createdAtMs = "created_at"
    case revokedAtMs = "revoked_at"
  }
}

extension LearningRecordStore {
  /// Stores a new token (its id must be new).
  public func insertToken(_ token: StoredToken) async throws {
    try await pool.write { db in try token.insert(db) }
  }

  /// The token with this id, revoked or not.
  public func token(id: String) async throws -> StoredToken? {
    try await pool.read { db in try StoredToken.fetchOne(db, key: id) }
  }

  /// Tokens, oldest first; revoked ones only when asked.
  public func tokens(includeRevoked: Bool = false) async throws -> [StoredToken] {
    try await pool.read { db in
      try StoredToken.fetchAll(
        db,
        sql:
          "SELECT * FROM access_token \(includeRevoked ? "" : "WHERE revoked_at IS NULL") ORDER BY created_at, id"
      )
    }
  }

  /// Tokens not revoked.
  public func activeTokenCount() async throws -> Int {
    try await pool.read { db in
      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM access_token WHERE revoked_at IS NULL") ?? 0
    }
  }

  /// Revokes a token; false when there is no such token or it was already revoked.
  public func revokeToken(id: String) async throws -> Bool {
    try await pool.write { db in
      try db.execute(
        sql: "UPDATE access_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        arguments: [self.now(), id]
      )
      return db.changesCount > 0
    }
  }
}

extension LearningRecordStore {
  /// Deletes tokens outright (a load test's, once it is over).
  public func deleteTokens(ids: [String]) async throws {
    guard !ids.isEmpty else { return }
    _ = try await pool.write { db in
      try StoredToken.deleteAll(db, keys: ids)
    }
  }

  /// Sessions, turns (all and completed) and attempts of the students whose ids start with
  /// `prefix`: what a load test checks against what the server acknowledged.
  public func recordCounts(
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
}
