import Foundation
import GRDB

// Turns: a question stored before its answer is generated, the answer when it ends, and the
// turns a dead process left unfinished.
extension LearningRecordStore {
  /// A session's turns, oldest first.
  public func turns(sessionId: String) async throws -> [StoredTurn] {
    try await pool.read { db in
      try StoredTurn.filter(StoredTurn.Columns.sessionId == sessionId).order(StoredTurn.Columns.index)
        .fetchAll(db)
    }
  }

  /// Stores a question before its answer is generated (status `answering`).
  /// - Throws: ``TutorStoreError/sessionNotFound(_:)`` or ``TutorStoreError/sessionEnded(_:)``.
  public func beginTurn(
    sessionId: String,
    question: String,
    snippetIds: [String],
    promptTokens: Int
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
      let turn = StoredTurn(
        id: UUID().uuidString.lowercased(),
        sessionId: sessionId,
        index: index,
        question: question,
        answer: "",
        snippetIds: snippetIds,
        promptTokens: promptTokens,
        completionTokens: 0,
        latencyMilliseconds: nil,
        status: .answering,
        finishReason: nil,
        createdAtMs: now,
        completedAtMs: nil
      )
      try turn.insert(db)
      session.updatedAtMs = now
      try session.update(db)
      return turn
    }
  }

  /// Stores the end of a turn: its answer (complete or partial), usage and how it ended.
  @discardableResult
  public func finishTurn(
    id: String,
    answer: String,
    completionTokens: Int,
    latencyMilliseconds: Int,
    status: StoredTurn.Status,
    finishReason: String?
  ) async throws -> StoredTurn {
    try await write("finishTurn") { db in
      guard var turn = try StoredTurn.fetchOne(db, key: id) else { throw TutorStoreError.turnNotFound(id) }
      turn.answer = answer
      turn.completionTokens = completionTokens
      turn.latencyMilliseconds = latencyMilliseconds
      turn.status = status
      turn.finishReason = finishReason
      turn.completedAtMs = self.now()
      try turn.update(db)
      return turn
    }
  }

  /// Marks turns left `answering` by a previous process as `interrupted`; returns how many.
  /// Call once at start-up, before serving.
  public func markInterruptedTurns() async throws -> Int {
    try await write("markInterruptedTurns") { db in
      try db.execute(
        sql: "UPDATE turn SET status = 'interrupted', completed_at = ? WHERE status = 'answering'",
        arguments: [self.now()]
      )
      return db.changesCount
    }
  }
}
