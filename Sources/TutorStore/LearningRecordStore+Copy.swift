import Foundation

// Moving a deployment between engines: every record of one store into an empty other, SQLite to
// PostgreSQL or back, with the counts checked at the end.

/// A table as a copy reads and writes it: its columns in both engines' common types.
struct CopyTable: Sendable {
  enum Kind: Sendable { case text, integer, real, boolean, blob }

  var name: String
  var columns: [(name: String, kind: Kind)]
  /// The order rows are read in (parents come before the rows that refer to them).
  var order: String

  /// The select list: booleans read as 0/1 (SQLite stores them so; PostgreSQL casts).
  var selectList: String {
    columns.map { $0.kind == .boolean ? "CAST(\($0.name) AS INTEGER)" : $0.name }.joined(separator: ", ")
  }

  func values(_ row: some SQLRow) throws -> [SQLValue] {
    try columns.indices.map { i in
      switch columns[i].kind {
      case .text: try row.text(i).map(SQLValue.text) ?? .null
      case .integer, .boolean: try row.integer(i).map(SQLValue.integer) ?? .null
      case .real: try row.real(i).map(SQLValue.real) ?? .null
      case .blob: try row.blob(i).map(SQLValue.blob) ?? .null
      }
    }
  }

  /// Every table of the record, parents first. Leases are not copied (they belong to running
  /// processes), nor mastery history's row numbers (the target numbers its own, in order).
  static let all: [CopyTable] = [
    CopyTable(name: "student", columns: [("id", .text), ("created_at", .integer)], order: "id"),
    CopyTable(
      name: "session",
      columns: [
        ("id", .text), ("student_id", .text), ("curriculum_id", .text), ("lesson_id", .text),
        ("lesson_chosen", .boolean), ("state", .text), ("created_at", .integer), ("updated_at", .integer),
        ("ended_at", .integer),
      ],
      order: "id"
    ),
    CopyTable(
      name: "turn",
      columns: [
        ("id", .text), ("session_id", .text), ("idx", .integer), ("question", .text), ("answer", .text),
        ("snippet_ids", .text), ("prompt_tokens", .integer), ("completion_tokens", .integer),
        ("latency_ms", .integer), ("status", .text), ("finish_reason", .text), ("created_at", .integer),
        ("completed_at", .integer), ("flags", .text),
      ],
      order: "id"
    ),
    CopyTable(
      name: "attempt",
      columns: [
        ("id", .text), ("session_id", .text), ("student_id", .text), ("curriculum_id", .text),
        ("lesson_id", .text), ("exercise_id", .text), ("objective_id", .text), ("answer", .text),
        ("correct", .integer), ("hints_revealed", .integer), ("hint_revealed", .integer),
        ("created_at", .integer), ("flags", .text),
      ],
      order: "id"
    ),
    CopyTable(
      name: "mastery",
      columns: [
        ("student_id", .text), ("curriculum_id", .text), ("objective_id", .text), ("probability", .real),
        ("updated_at", .integer),
      ],
      order: "student_id, curriculum_id, objective_id"
    ),
    CopyTable(
      name: "mastery_history",
      columns: [
        ("student_id", .text), ("curriculum_id", .text), ("objective_id", .text), ("probability", .real),
        ("attempt_id", .text), ("created_at", .integer),
      ],
      order: "id"
    ),
    CopyTable(
      name: "access_token",
      columns: [
        ("id", .text), ("secret_sha256", .blob), ("role", .text), ("student_id", .text), ("curricula", .text),
        ("label", .text), ("created_at", .integer), ("revoked_at", .integer),
      ],
      order: "id"
    ),
  ]

  /// Reads every table on `reader` (one snapshot), handing `body` batches of up to `size` rows.
  static func readAll<Reader: SQLReader>(
    on reader: Reader,
    batchSize size: Int,
    _ body: (CopyTable, [[SQLValue]]) throws -> Void
  ) throws {
    for table in all {
      var batch: [[SQLValue]] = []
      try reader.forEachRow("SELECT \(table.selectList) FROM \(table.name) ORDER BY \(table.order)", []) {
        row in
        batch.append(try table.values(row))
        if batch.count == size {
          try body(table, batch)
          batch.removeAll(keepingCapacity: true)
        }
      }
      if !batch.isEmpty { try body(table, batch) }
    }
  }
}

extension LearningRecordStore {
  /// Copies every record of `source` into `target`, which must be empty, and checks that each
  /// table then holds as many rows in both. Returns the rows copied per table.
  ///
  /// The source is read in one snapshot (a server may keep writing to it; what it writes after the
  /// copy began is not copied, so stop the servers first to move a deployment). The target is
  /// written a batch per transaction: a copy that fails leaves a partial target, which the next
  /// attempt refuses; empty it (or make a new database) and copy again.
  /// - Throws: ``TutorStoreError/targetNotEmpty(_:)``, ``TutorStoreError/copyMismatch(_:)``.
  public static func copy(
    from source: LearningRecordStore,
    to target: LearningRecordStore,
    batchSize: Int = 500,
    progress: @escaping @Sendable (_ table: String, _ rows: Int) -> Void = { _, _ in }
  ) async throws -> [String: Int] {
    let existing = try await target.engine.tableCounts().filter { $0.value > 0 }
    guard existing.isEmpty else {
      throw TutorStoreError.targetNotEmpty(
        existing.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
      )
    }
    // Reading blocks (a cursor), so it runs on a thread of its own; each batch waits for its
    // write.
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
      let thread = Thread {
        continuation.resume(
          with: Result {
            var copied: [String: Int] = [:]
            try source.engine.readAllRows(batchSize: max(1, batchSize)) { table, rows in
              try blockingWait { try await target.engine.insertRows(table, rows) }
              copied[table.name, default: 0] += rows.count
              progress(table.name, copied[table.name, default: 0])
            }
          }
        )
      }
      thread.name = "tutor-db-copy"
      thread.start()
    }
    let (from, to) = (try await source.engine.tableCounts(), try await target.engine.tableCounts())
    let differences = RecordTables.all.filter { from[$0] != to[$0] }
    guard differences.isEmpty else {
      throw TutorStoreError.copyMismatch(
        differences.map { "\($0): \(from[$0] ?? 0) in the source, \(to[$0] ?? 0) in the target" }
          .joined(separator: "; ")
      )
    }
    return to
  }

  /// Rows per table (students, sessions, turns, attempts, mastery, its history, tokens).
  public func tableCounts() async throws -> [String: Int] { try await engine.tableCounts() }
}

/// Runs `body` on Swift's concurrency pool and blocks the calling thread (one of its own, never
/// one of the pool's) until it ends.
private func blockingWait(_ body: @escaping @Sendable () async throws -> Void) throws {
  final class Outcome: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    var error: (any Error)?
  }
  let outcome = Outcome()
  Task {
    do { try await body() } catch { outcome.error = error }
    outcome.done.signal()
  }
  outcome.done.wait()
  if let error = outcome.error { throw error }
}
