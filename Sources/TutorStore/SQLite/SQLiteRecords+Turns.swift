import Foundation
import GRDB

// Turns: a question stored before its answer is generated, the answer when it ends, and the
// turns a dead process left unfinished.
extension SQLiteRecords {
  /// A session's turns, oldest first.
  func turns(sessionId: String) async throws -> [StoredTurn] {
    try await pool.read { db in
      try StoredTurn.filter(StoredTurn.Columns.sessionId == sessionId).order(StoredTurn.Columns.index)
        .fetchAll(db)
    }
  }

  /// Stores a question before its answer is generated (status `answering`).
  /// - Throws: ``TutorStoreError/sessionNotFound(_:)`` or ``TutorStoreError/sessionEnded(_:)``.
  func beginTurn(
    sessionId: String,
    question: String,
    snippetIds: [String],
    promptTokens: Int,
    flags: [TurnFlag],
    replicaId: String
  ) async throws -> StoredTurn {
    try await write("beginTurn") { db in
      guard var session = try StoredSession.fetchOne(db, key: sessionId) else {
        throw TutorStoreError.sessionNotFound(sessionId)
      }
      guard session.state == .active else { throw TutorStoreError.sessionEnded(sessionId) }
      let index =
        try Int.fetchOne(
          db,
          sql: "SELECT COALESCE(MAX(idx) + 1, 0) FROM turn WHERE session_id = ?",
          arguments: [sessionId]
        )
        ?? 0
      let now = self.now()
      let turn = StoredTurn.asked(
        question,
        sessionId: sessionId,
        index: index,
        snippetIds: snippetIds,
        promptTokens: promptTokens,
        flags: flags,
        at: now
      )
      do {
        try turn.insert(db)
      } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
        // The unique index on a session's `answering` turn: another question is being answered.
        throw TutorStoreError.sessionBusy(sessionId)
      }
      try db.execute(sql: "UPDATE turn SET replica_id = ? WHERE id = ?", arguments: [replicaId, turn.id])
      session.updatedAtMs = now
      try session.update(db)
      return turn
    }
  }

  /// Stores the end of a turn: its answer (complete or partial), usage and how it ended.
  @discardableResult
  func finishTurn(
    id: String,
    answer: String,
    completionTokens: Int,
    latencyMilliseconds: Int,
    status: StoredTurn.Status,
    finishReason: String?,
    flags: [TurnFlag]?
  ) async throws -> StoredTurn {
    try await write("finishTurn") { db in
      guard var turn = try StoredTurn.fetchOne(db, key: id) else { throw TutorStoreError.turnNotFound(id) }
      turn.answer = answer
      turn.completionTokens = completionTokens
      turn.latencyMilliseconds = latencyMilliseconds
      turn.status = status
      turn.finishReason = finishReason
      turn.completedAtMs = self.now()
      if let flags { turn.flags = flags }
      try turn.update(db)
      return turn
    }
  }

  func markInterruptedTurns() async throws -> Int {
    try await write("markInterruptedTurns") { db in
      try db.execute(
        sql: "UPDATE turn SET status = 'interrupted', completed_at = ? WHERE status = 'answering'",
        arguments: [self.now()]
      )
      return db.changesCount
    }
  }

  /// One process per file: nobody else to tell.
  func announceReload(replicaId: String) async throws {}

  func reloadAnnouncements(excluding replicaId: String) -> AsyncStream<Void> {
    AsyncStream { $0.finish() }
  }

  func renewLease(replicaId: String) async throws {
    try await write("renewLease") { db in
      try db.execute(
        sql: """
          INSERT INTO replica (id, started_at, renewed_at) VALUES (?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET renewed_at = excluded.renewed_at
          """,
        arguments: [replicaId, self.now(), self.now()]
      )
    }
  }

  func releaseLease(replicaId: String) async throws {
    try await write("releaseLease") { db in
      try db.execute(sql: "DELETE FROM replica WHERE id = ?", arguments: [replicaId])
    }
  }

  func interruptOrphanedTurns(leaseMilliseconds: Int64) async throws -> Int {
    try await write("interruptOrphanedTurns") { db in
      let now = self.now()
      let expired = now - leaseMilliseconds
      try db.execute(
        sql: """
          UPDATE turn SET status = 'interrupted', completed_at = ?
          WHERE status = 'answering'
            AND (replica_id IS NULL OR replica_id NOT IN (SELECT id FROM replica WHERE renewed_at >= ?))
          """,
        arguments: [now, expired]
      )
      let interrupted = db.changesCount
      try db.execute(sql: "DELETE FROM replica WHERE renewed_at < ?", arguments: [expired])
      return interrupted
    }
  }
}

// Flags and retention.
extension SQLiteRecords {
  func flaggedTurns(_ filter: FlagFilter) async throws -> FlaggedTurnsPage {
    let (sql, arguments) = try FlagQuery.sql(filter)
    return try await pool.read { db in
      try FlagQuery.page(GRDBReader(db: db).rows(sql, arguments), pageSize: filter.pageSize)
    }
  }

  func purgeText(before cutoffMs: Int64) async throws -> (turns: Int, attempts: Int) {
    try await write("purgeText") { db in
      try db.execute(sql: FlagQuery.purgeTurns, arguments: [cutoffMs])
      let turns = db.changesCount
      try db.execute(sql: FlagQuery.purgeAttempts, arguments: [cutoffMs])
      return (turns, db.changesCount)
    }
  }
}
