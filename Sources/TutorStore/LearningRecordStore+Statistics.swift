import Foundation
import GRDB

/// A summary of the learning record: how much tutoring happened, how well students answered, and
/// how fast and long the model's explanations were.
public struct LearningStatistics: Sendable, Equatable {
  /// Sessions started in the period.
  public var sessions: Int
  /// Students who started a session, asked a question or answered an exercise in the period.
  public var activeStudents: Int
  /// Questions asked (turns), and how many of them got a complete explanation.
  public var questions: Int
  public var explanations: Int
  /// Graded answers to exercises, how many were right, and hints revealed by wrong ones.
  public var attempts: Int
  public var correctAttempts: Int
  public var hintsRevealed: Int
  /// Correct attempts over attempts; nil without attempts.
  public var accuracy: Double? { Self.ratio(correctAttempts, attempts) }
  /// Generation time of complete explanations, milliseconds.
  public var latencyMs: Distribution?
  /// Tokens generated per complete explanation.
  public var tokensPerAnswer: Distribution?
  /// Per lesson, in curriculum and lesson order.
  public var lessons: [LessonStatistics]
  /// The exercises with the lowest accuracy (ties: more attempts first), at most as many as asked.
  public var hardestExercises: [ExerciseStatistics]

  /// Median, 90th percentile and mean of a set of values (percentiles by the nearest-rank method;
  /// the median of an even count is the mean of the middle two).
  public struct Distribution: Sendable, Equatable, Encodable {
    public var count: Int
    public var median: Double
    public var p90: Double
    public var mean: Double

    public init(count: Int, median: Double, p90: Double, mean: Double) {
      self.count = count
      self.median = median
      self.p90 = p90
      self.mean = mean
    }
  }

  public struct LessonStatistics: Sendable, Equatable {
    public var curriculumId: String
    public var lessonId: String
    public var sessions: Int
    public var students: Int
    public var questions: Int
    public var attempts: Int
    public var correctAttempts: Int
    public var accuracy: Double? { LearningStatistics.ratio(correctAttempts, attempts) }
  }

  public struct ExerciseStatistics: Sendable, Equatable {
    public var curriculumId: String
    public var lessonId: String
    public var exerciseId: String
    public var students: Int
    public var attempts: Int
    public var correctAttempts: Int
    /// Students (sessions, strictly) whose first attempt was right.
    public var firstTryCorrect: Int
    /// Sessions that attempted the exercise.
    public var sessions: Int
    public var hintsRevealed: Int
    public var accuracy: Double? { LearningStatistics.ratio(correctAttempts, attempts) }
    public var firstTryAccuracy: Double? { LearningStatistics.ratio(firstTryCorrect, sessions) }
  }

  static func ratio(_ part: Int, _ whole: Int) -> Double? { whole == 0 ? nil : Double(part) / Double(whole) }
}

extension LearningRecordStore {
  /// Summarises the records `filter` selects. Times select sessions by their start, questions
  /// and attempts by their own time; the curriculum and student select all three.
  ///
  /// Aggregates run in SQLite over one read snapshot (a reader connection: tutoring's writes go
  /// on). Percentiles are read at their ranks from SQLite's sort, so memory here stays flat
  /// however large the record.
  public func statistics(_ filter: ExportFilter, hardestExercises: Int = 5) async throws -> LearningStatistics
  {
    var sessionConditions = Conditions()
    var turnConditions = Conditions()
    var attemptConditions = Conditions()
    if let since = filter.since?.millisecondsSince1970 {
      sessionConditions.add("s.created_at >= ?", since)
      turnConditions.add("t.created_at >= ?", since)
      attemptConditions.add("a.created_at >= ?", since)
    }
    if let until = filter.until?.millisecondsSince1970 {
      sessionConditions.add("s.created_at < ?", until)
      turnConditions.add("t.created_at < ?", until)
      attemptConditions.add("a.created_at < ?", until)
    }
    if let curriculum = filter.curriculumId {
      sessionConditions.add("s.curriculum_id = ?", curriculum)
      turnConditions.add("s.curriculum_id = ?", curriculum)
      attemptConditions.add("a.curriculum_id = ?", curriculum)
    }
    if let student = filter.studentId {
      sessionConditions.add("s.student_id = ?", student)
      turnConditions.add("s.student_id = ?", student)
      attemptConditions.add("a.student_id = ?", student)
    }
    let turns = "turn t JOIN session s ON s.id = t.session_id \(turnConditions.whereClause)"
    let completed =
      "turn t JOIN session s ON s.id = t.session_id \(turnConditions.and("t.status = 'completed'"))"
    let (session, turn, attempt) = (sessionConditions, turnConditions, attemptConditions)
    return try await pool.read { db in
      func int(_ sql: String, _ arguments: StatementArguments) throws -> Int {
        try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0
      }
      let attemptTotals = try Row.fetchOne(
        db,
        sql: """
          SELECT COUNT(*), COALESCE(SUM(a.correct), 0), COUNT(a.hint_revealed)
          FROM attempt a \(attempt.whereClause)
          """,
        arguments: attempt.arguments
      )
      let lessons = try Self.lessonStatistics(db, session: session, turn: turn, attempt: attempt)
      let exercises = try Row.fetchAll(
        db,
        sql: """
          SELECT curriculum_id, lesson_id, exercise_id, COUNT(DISTINCT student_id), COUNT(*), SUM(correct),
                 SUM(CASE WHEN number = 1 AND correct THEN 1 ELSE 0 END), COUNT(DISTINCT session_id),
                 COUNT(hint_revealed)
          FROM (
            SELECT a.*, ROW_NUMBER() OVER (PARTITION BY a.session_id, a.exercise_id ORDER BY a.created_at, a.id)
                          AS number
            FROM attempt a \(attempt.whereClause)
          )
          GROUP BY curriculum_id, lesson_id, exercise_id
          ORDER BY CAST(SUM(correct) AS REAL) / COUNT(*), COUNT(*) DESC, curriculum_id, lesson_id, exercise_id
          LIMIT ?
          """,
        arguments: attempt.arguments + [hardestExercises]
      )
      return LearningStatistics(
        sessions: try int("SELECT COUNT(*) FROM session s \(session.whereClause)", session.arguments),
        activeStudents: try int(
          """
          SELECT COUNT(*) FROM (
            SELECT s.student_id FROM session s \(session.whereClause)
            UNION SELECT s.student_id FROM \(turns)
            UNION SELECT a.student_id FROM attempt a \(attempt.whereClause)
          )
          """,
          session.arguments + turn.arguments + attempt.arguments
        ),
        questions: try int("SELECT COUNT(*) FROM \(turns)", turn.arguments),
        explanations: try int("SELECT COUNT(*) FROM \(completed)", turn.arguments),
        attempts: attemptTotals?[0] ?? 0,
        correctAttempts: attemptTotals?[1] ?? 0,
        hintsRevealed: attemptTotals?[2] ?? 0,
        latencyMs: try Self.distribution(db, column: "t.latency_ms", from: completed, turn.arguments),
        tokensPerAnswer: try Self.distribution(
          db,
          column: "t.completion_tokens",
          from: completed,
          turn.arguments
        ),
        lessons: lessons,
        hardestExercises: exercises.map { row in
          LearningStatistics.ExerciseStatistics(
            curriculumId: row[0],
            lessonId: row[1],
            exerciseId: row[2],
            students: row[3],
            attempts: row[4],
            correctAttempts: row[5],
            firstTryCorrect: row[6],
            sessions: row[7],
            hintsRevealed: row[8]
          )
        }
      )
    }
  }

  /// Sessions, students, questions and attempts per lesson: three grouped counts merged by key.
  private static func lessonStatistics(
    _ db: Database,
    session: Conditions,
    turn: Conditions,
    attempt: Conditions
  ) throws -> [LearningStatistics.LessonStatistics] {
    struct Key: Hashable, Comparable {
      var curriculum: String
      var lesson: String
      static func < (a: Key, b: Key) -> Bool { (a.curriculum, a.lesson) < (b.curriculum, b.lesson) }
    }
    var lessons: [Key: LearningStatistics.LessonStatistics] = [:]
    func update(_ row: Row, _ body: (inout LearningStatistics.LessonStatistics) -> Void) {
      let key = Key(curriculum: row[0], lesson: row[1])
      var entry =
        lessons[key]
        ?? .init(
          curriculumId: key.curriculum,
          lessonId: key.lesson,
          sessions: 0,
          students: 0,
          questions: 0,
          attempts: 0,
          correctAttempts: 0
        )
      body(&entry)
      lessons[key] = entry
    }
    for row in try Row.fetchAll(
      db,
      sql: """
        SELECT s.curriculum_id, s.lesson_id, COUNT(*), COUNT(DISTINCT s.student_id)
        FROM session s \(session.whereClause) GROUP BY 1, 2
        """,
      arguments: session.arguments
    ) {
      update(row) {
        $0.sessions = row[2]
        $0.students = row[3]
      }
    }
    for row in try Row.fetchAll(
      db,
      sql: """
        SELECT s.curriculum_id, s.lesson_id, COUNT(*)
        FROM turn t JOIN session s ON s.id = t.session_id \(turn.whereClause) GROUP BY 1, 2
        """,
      arguments: turn.arguments
    ) {
      update(row) { $0.questions = row[2] }
    }
    for row in try Row.fetchAll(
      db,
      sql: """
        SELECT a.curriculum_id, a.lesson_id, COUNT(*), SUM(a.correct)
        FROM attempt a \(attempt.whereClause) GROUP BY 1, 2
        """,
      arguments: attempt.arguments
    ) {
      update(row) {
        $0.attempts = row[2]
        $0.correctAttempts = row[3]
      }
    }
    return lessons.sorted { $0.key < $1.key }.map(\.value)
  }

  /// The distribution of `column` (non-null values) over `from`, by reading the values at the
  /// percentile ranks rather than the whole column.
  private static func distribution(
    _ db: Database,
    column: String,
    from: String,
    _ arguments: StatementArguments
  ) throws -> LearningStatistics.Distribution? {
    guard
      let totals = try Row.fetchOne(
        db,
        sql: "SELECT COUNT(\(column)), AVG(\(column)) FROM \(from)",
        arguments: arguments
      ),
      let count = totals[0] as Int?, count > 0
    else { return nil }
    func value(at rank: Int) throws -> Double {
      try Double.fetchOne(
        db,
        sql: "SELECT \(column) FROM \(from) AND \(column) IS NOT NULL ORDER BY \(column) LIMIT 1 OFFSET ?",
        arguments: arguments + [rank]
      ) ?? 0
    }
    let median =
      count % 2 == 1 ? try value(at: count / 2) : (try value(at: count / 2 - 1) + value(at: count / 2)) / 2
    let p90Rank = Int((0.9 * Double(count)).rounded(.up)) - 1
    return LearningStatistics.Distribution(
      count: count,
      median: median,
      p90: try value(at: max(0, p90Rank)),
      mean: totals[1] ?? 0
    )
  }
}
