import PostgresNIO

extension PostgresRecords {
  /// Versioned schema, append-only like SQLite's: a released migration is never edited. The
  /// first is SQLite's schema as of its v5 (PostgreSQL joined then).
  static let migrations: [(name: String, sql: [String])] = [
    (
      "1: students, sessions, turns, attempts, mastery, tokens, replicas' leases",
      [
        "CREATE TABLE student (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL)",
        """
        CREATE TABLE session (
          id TEXT PRIMARY KEY,
          student_id TEXT NOT NULL REFERENCES student (id) ON DELETE CASCADE,
          curriculum_id TEXT NOT NULL,
          lesson_id TEXT NOT NULL,
          lesson_chosen BOOLEAN NOT NULL DEFAULT TRUE,
          state TEXT NOT NULL CHECK (state IN ('active', 'ended')),
          created_at BIGINT NOT NULL,
          updated_at BIGINT NOT NULL,
          ended_at BIGINT
        )
        """,
        "CREATE INDEX session_by_student ON session (student_id, created_at, id)",
        "CREATE INDEX session_by_curriculum ON session (curriculum_id, created_at, id)",
        "CREATE INDEX session_by_created ON session (created_at, id)",
        "CREATE INDEX session_by_state ON session (state)",
        """
        CREATE TABLE replica (id TEXT PRIMARY KEY, started_at BIGINT NOT NULL, renewed_at BIGINT NOT NULL)
        """,
        """
        CREATE TABLE turn (
          id TEXT PRIMARY KEY,
          session_id TEXT NOT NULL REFERENCES session (id) ON DELETE CASCADE,
          idx BIGINT NOT NULL,
          question TEXT NOT NULL,
          answer TEXT NOT NULL DEFAULT '',
          snippet_ids TEXT NOT NULL DEFAULT '[]',
          prompt_tokens BIGINT NOT NULL DEFAULT 0,
          completion_tokens BIGINT NOT NULL DEFAULT 0,
          latency_ms BIGINT,
          status TEXT NOT NULL CHECK (status IN ('answering', 'completed', 'cancelled', 'interrupted', 'failed')),
          finish_reason TEXT,
          created_at BIGINT NOT NULL,
          completed_at BIGINT,
          replica_id TEXT,
          UNIQUE (session_id, idx)
        )
        """,
        "CREATE INDEX turn_by_status ON turn (status)",
        "CREATE INDEX turn_by_time ON turn (created_at)",
        // One question answered at a time per session, whichever replica answers it.
        "CREATE UNIQUE INDEX turn_one_answering ON turn (session_id) WHERE status = 'answering'",
        """
        CREATE TABLE attempt (
          id TEXT PRIMARY KEY,
          session_id TEXT NOT NULL REFERENCES session (id) ON DELETE CASCADE,
          student_id TEXT NOT NULL REFERENCES student (id) ON DELETE CASCADE,
          curriculum_id TEXT NOT NULL,
          lesson_id TEXT NOT NULL,
          exercise_id TEXT NOT NULL,
          objective_id TEXT,
          answer TEXT NOT NULL,
          correct INTEGER NOT NULL CHECK (correct IN (0, 1)),
          hints_revealed BIGINT NOT NULL,
          hint_revealed BIGINT,
          created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX attempt_by_student ON attempt (student_id, curriculum_id, created_at)",
        "CREATE INDEX attempt_by_session ON attempt (session_id, exercise_id)",
        "CREATE INDEX attempt_by_time ON attempt (created_at)",
        """
        CREATE TABLE mastery (
          student_id TEXT NOT NULL REFERENCES student (id) ON DELETE CASCADE,
          curriculum_id TEXT NOT NULL,
          objective_id TEXT NOT NULL,
          probability DOUBLE PRECISION NOT NULL,
          updated_at BIGINT NOT NULL,
          PRIMARY KEY (student_id, curriculum_id, objective_id)
        )
        """,
        """
        CREATE TABLE mastery_history (
          id BIGSERIAL PRIMARY KEY,
          student_id TEXT NOT NULL REFERENCES student (id) ON DELETE CASCADE,
          curriculum_id TEXT NOT NULL,
          objective_id TEXT NOT NULL,
          probability DOUBLE PRECISION NOT NULL,
          attempt_id TEXT REFERENCES attempt (id) ON DELETE CASCADE,
          created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX mastery_history_by_student ON mastery_history (student_id)",
        "CREATE INDEX mastery_history_by_attempt ON mastery_history (attempt_id)",
        """
        CREATE TABLE access_token (
          id TEXT PRIMARY KEY,
          secret_sha256 BYTEA NOT NULL,
          role TEXT NOT NULL CHECK (role IN ('student', 'teacher', 'author', 'analyst', 'admin')),
          student_id TEXT,
          curricula TEXT NOT NULL DEFAULT '[]',
          label TEXT NOT NULL DEFAULT '',
          created_at BIGINT NOT NULL,
          revoked_at BIGINT
        )
        """,
        "CREATE INDEX access_token_by_student ON access_token (student_id)",
      ]
    ),
    (
      "2: what screening found in each turn",
      [
        "ALTER TABLE turn ADD COLUMN flags TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX turn_flagged ON turn (created_at, id) WHERE flags <> '[]'",
      ]
    ),
    (
      "3: what screening found in exercise answers",
      [
        "ALTER TABLE attempt ADD COLUMN flags TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX attempt_flagged ON attempt (created_at, id) WHERE flags <> '[]'",
      ]
    ),
  ]

  /// A constant key for `pg_advisory_xact_lock`: replicas starting together queue on it, and
  /// the first migrates while the others wait, then find nothing left to do.
  static let migrationLockKey: Int64 = 0x7475_746F_725F_6462  // "tutor_db"

  /// Applies the migrations not applied yet, all in one transaction under the lock.
  func migrate() async throws {
    try await transaction("migrate") { connection in
      try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))", logger: logger)
      try await connection.query(
        "CREATE TABLE IF NOT EXISTS tutor_migration (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        logger: logger
      )
      var applied = Set<String>()
      for try await name in try await connection.query("SELECT name FROM tutor_migration", logger: logger)
        .decode(String.self)
      {
        applied.insert(name)
      }
      for migration in Self.migrations where !applied.contains(migration.name) {
        for statement in migration.sql {
          try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await connection.query(
          "INSERT INTO tutor_migration (name, applied_at) VALUES (\(migration.name), \(now()))",
          logger: logger
        )
        logger.info("database migrated", metadata: ["migration": "\(migration.name)"])
      }
    }
  }
}
