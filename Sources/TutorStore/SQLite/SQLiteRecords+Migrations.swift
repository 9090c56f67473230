import GRDB

extension SQLiteRecords {
  /// Versioned schema. Migrations are append-only: a released migration is never edited.
  /// Times are INTEGER milliseconds since 1970 (UTC): exact to compare and to page on.
  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1: students, sessions, turns, attempts, mastery") { db in
      try db.create(table: "student") { t in
        t.primaryKey("id", .text)
        t.column("created_at", .integer).notNull()
      }
      try db.create(table: "session") { t in
        t.primaryKey("id", .text)
        t.column("student_id", .text).notNull().references("student", onDelete: .cascade)
        t.column("curriculum_id", .text).notNull()
        t.column("lesson_id", .text).notNull()
        t.column("state", .text).notNull().check { ["active", "ended"].contains($0) }
        t.column("created_at", .integer).notNull()
        t.column("updated_at", .integer).notNull()
        t.column("ended_at", .integer)
      }
      try db.create(index: "session_by_student", on: "session", columns: ["student_id", "created_at", "id"])
      try db.create(
        index: "session_by_curriculum",
        on: "session",
        columns: ["curriculum_id", "created_at", "id"]
      )
      try db.create(table: "turn") { t in
        t.primaryKey("id", .text)
        t.column("session_id", .text).notNull().references("session", onDelete: .cascade)
        t.column("idx", .integer).notNull()
        t.column("question", .text).notNull()
        t.column("answer", .text).notNull().defaults(to: "")
        t.column("snippet_ids", .jsonText).notNull().defaults(to: "[]")
        t.column("prompt_tokens", .integer).notNull().defaults(to: 0)
        t.column("completion_tokens", .integer).notNull().defaults(to: 0)
        t.column("latency_ms", .integer)
        t.column("status", .text).notNull()
          .check { ["answering", "completed", "cancelled", "interrupted", "failed"].contains($0) }
        t.column("finish_reason", .text)
        t.column("created_at", .integer).notNull()
        t.column("completed_at", .integer)
        t.uniqueKey(["session_id", "idx"])
      }
      try db.create(index: "turn_by_status", on: "turn", columns: ["status"])
      try db.create(table: "attempt") { t in
        t.primaryKey("id", .text)
        t.column("session_id", .text).notNull().references("session", onDelete: .cascade)
        t.column("student_id", .text).notNull().references("student", onDelete: .cascade)
        t.column("curriculum_id", .text).notNull()
        t.column("lesson_id", .text).notNull()
        t.column("exercise_id", .text).notNull()
        t.column("objective_id", .text)
        t.column("answer", .text).notNull()
        t.column("correct", .boolean).notNull()
        t.column("hints_revealed", .integer).notNull()
        t.column("created_at", .integer).notNull()
      }
      try db.create(
        index: "attempt_by_student",
        on: "attempt",
        columns: ["student_id", "curriculum_id", "created_at"]
      )
      try db.create(table: "mastery") { t in
        t.column("student_id", .text).notNull().references("student", onDelete: .cascade)
        t.column("curriculum_id", .text).notNull()
        t.column("objective_id", .text).notNull()
        t.column("probability", .double).notNull()
        t.column("updated_at", .integer).notNull()
        t.primaryKey(["student_id", "curriculum_id", "objective_id"])
      }
      try db.create(table: "mastery_history") { t in
        t.autoIncrementedPrimaryKey("id")
        t.column("student_id", .text).notNull().references("student", onDelete: .cascade)
        t.column("curriculum_id", .text).notNull()
        t.column("objective_id", .text).notNull()
        t.column("probability", .double).notNull()
        t.column("attempt_id", .text).references("attempt", onDelete: .cascade)
        t.column("created_at", .integer).notNull()
      }
    }
    migrator.registerMigration("v2: the hint each attempt revealed; attempts by time") { db in
      try db.alter(table: "attempt") { t in t.add(column: "hint_revealed", .integer) }
      try db.create(index: "attempt_by_time", on: "attempt", columns: ["created_at"])
      try db.create(index: "turn_by_time", on: "turn", columns: ["created_at"])
    }
    migrator.registerMigration("v3: access tokens; sessions by state") { db in
      // Only a hash of each token's secret is kept: a copy of the database lets nobody call the
      // server. Tokens are not tied to the student table (a token may come before the student's
      // first session); deleting a student's data deletes their tokens explicitly.
      try db.create(table: "access_token") { t in
        t.primaryKey("id", .text)
        t.column("secret_sha256", .blob).notNull()
        t.column("role", .text).notNull()
          .check { ["student", "teacher", "author", "analyst", "admin"].contains($0) }
        t.column("student_id", .text)
        t.column("curricula", .jsonText).notNull().defaults(to: "[]")
        t.column("label", .text).notNull().defaults(to: "")
        t.column("created_at", .integer).notNull()
        t.column("revoked_at", .integer)
      }
      try db.create(index: "access_token_by_student", on: "access_token", columns: ["student_id"])
      // The active-sessions gauge counts by state on every start and end.
      try db.create(index: "session_by_state", on: "session", columns: ["state"])
    }
    migrator.registerMigration("v4: whether the student chose the session's lesson") { db in
      // Sessions from before kept their lesson focus, as they had it.
      try db.alter(table: "session") { t in
        t.add(column: "lesson_chosen", .boolean).notNull().defaults(to: true)
      }
    }
    migrator.registerMigration("v5: replicas' leases; one question answered at a time per session") { db in
      // Which process answers each question, and whether it is alive: a turn left `answering`
      // by a process whose lease expired is marked `interrupted` by another.
      try db.create(table: "replica") { t in
        t.primaryKey("id", .text)
        t.column("started_at", .integer).notNull()
        t.column("renewed_at", .integer).notNull()
      }
      try db.alter(table: "turn") { t in t.add(column: "replica_id", .text) }
      // Before the index: a session with several turns left answering (it took two processes
      // on one file) keeps only its last one answering, until the next start interrupts it.
      try db.execute(
        sql: """
          UPDATE turn SET status = 'interrupted', completed_at = created_at
          WHERE status = 'answering'
            AND idx < (SELECT MAX(idx) FROM turn AS t2 WHERE t2.session_id = turn.session_id AND t2.status = 'answering')
          """
      )
      try db.execute(
        sql: "CREATE UNIQUE INDEX turn_one_answering ON turn (session_id) WHERE status = 'answering'"
      )
    }
    migrator.registerMigration("v6: what screening found in each turn") { db in
      // A JSON array of {source, category, severity}; teachers list the flagged turns by time.
      try db.alter(table: "turn") { t in t.add(column: "flags", .jsonText).notNull().defaults(to: "[]") }
      try db.execute(sql: "CREATE INDEX turn_flagged ON turn (created_at, id) WHERE flags <> '[]'")
    }
    migrator.registerMigration("v7: what screening found in exercise answers") { db in
      try db.alter(table: "attempt") { t in t.add(column: "flags", .jsonText).notNull().defaults(to: "[]") }
      try db.execute(sql: "CREATE INDEX attempt_flagged ON attempt (created_at, id) WHERE flags <> '[]'")
    }
    return migrator
  }
}
