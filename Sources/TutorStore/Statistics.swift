import Foundation

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

/// The statistics' queries, in SQL both engines run, and how their rows add up.
enum StatisticsQuery {
  /// Summarises the records `filter` selects, on `reader` (one snapshot). Times select sessions
  /// by their start, questions and attempts by their own time; the curriculum and student
  /// select all three. Percentiles are read at their ranks from the database's sort, so memory
  /// here stays flat however large the record.
  static func run<Reader: SQLReader>(
    _ filter: ExportFilter,
    hardestExercises: Int,
    on reader: Reader
  ) throws -> LearningStatistics {
    var session = Conditions()
    var turn = Conditions()
    var attempt = Conditions()
    if let since = filter.since?.millisecondsSince1970 {
      session.add("s.created_at >= ?", since)
      turn.add("t.created_at >= ?", since)
      attempt.add("a.created_at >= ?", since)
    }
    if let until = filter.until?.millisecondsSince1970 {
      session.add("s.created_at < ?", until)
      turn.add("t.created_at < ?", until)
      attempt.add("a.created_at < ?", until)
    }
    if let curriculum = filter.curriculumId {
      session.add("s.curriculum_id = ?", curriculum)
      turn.add("s.curriculum_id = ?", curriculum)
      attempt.add("a.curriculum_id = ?", curriculum)
    }
    if let student = filter.studentId {
      session.add("s.student_id = ?", student)
      turn.add("s.student_id = ?", student)
      attempt.add("a.student_id = ?", student)
    }
    let turns = "turn t JOIN session s ON s.id = t.session_id \(turn.whereClause)"
    let completed = "turn t JOIN session s ON s.id = t.session_id \(turn.and("t.status = 'completed'"))"
    let attemptTotals = try reader.row(
      """
      SELECT COUNT(*), COALESCE(SUM(a.correct), 0), COUNT(a.hint_revealed)
      FROM attempt a \(attempt.whereClause)
      """,
      attempt.arguments
    )
    let lessons = try lessonStatistics(reader, session: session, turn: turn, attempt: attempt)
    let exercises = try reader.rows(
      """
      SELECT curriculum_id, lesson_id, exercise_id, COUNT(DISTINCT student_id), COUNT(*), SUM(correct),
             SUM(CASE WHEN number = 1 AND correct = 1 THEN 1 ELSE 0 END), COUNT(DISTINCT session_id),
             COUNT(hint_revealed)
      FROM (
        SELECT a.*, ROW_NUMBER() OVER (PARTITION BY a.session_id, a.exercise_id ORDER BY a.created_at, a.id)
                      AS number
        FROM attempt a \(attempt.whereClause)
      ) AS numbered
      GROUP BY curriculum_id, lesson_id, exercise_id
      ORDER BY CAST(SUM(correct) AS DOUBLE PRECISION) / COUNT(*), COUNT(*) DESC, curriculum_id, lesson_id,
               exercise_id
      LIMIT ?
      """,
      attempt.arguments + [.integer(Int64(hardestExercises))]
    )
    return LearningStatistics(
      sessions: try reader.int("SELECT COUNT(*) FROM session s \(session.whereClause)", session.arguments),
      activeStudents: try reader.int(
        """
        SELECT COUNT(*) FROM (
          SELECT s.student_id FROM session s \(session.whereClause)
          UNION SELECT s.student_id FROM \(turns)
          UNION SELECT a.student_id FROM attempt a \(attempt.whereClause)
        ) AS students
        """,
        session.arguments + turn.arguments + attempt.arguments
      ),
      questions: try reader.int("SELECT COUNT(*) FROM \(turns)", turn.arguments),
      explanations: try reader.int("SELECT COUNT(*) FROM \(completed)", turn.arguments),
      attempts: try attemptTotals?.int(0) ?? 0,
      correctAttempts: try attemptTotals?.int(1) ?? 0,
      hintsRevealed: try attemptTotals?.int(2) ?? 0,
      latencyMs: try distribution(reader, column: "t.latency_ms", from: completed, turn.arguments),
      tokensPerAnswer: try distribution(
        reader,
        column: "t.completion_tokens",
        from: completed,
        turn.arguments
      ),
      lessons: lessons,
      hardestExercises: try exercises.map { row in
        LearningStatistics.ExerciseStatistics(
          curriculumId: try row.string(0),
          lessonId: try row.string(1),
          exerciseId: try row.string(2),
          students: try row.int(3),
          attempts: try row.int(4),
          correctAttempts: try row.int(5),
          firstTryCorrect: try row.int(6),
          sessions: try row.int(7),
          hintsRevealed: try row.int(8)
        )
      }
    )
  }

  private struct Key: Hashable, Comparable {
    var curriculum: String
    var lesson: String
    static func < (a: Key, b: Key) -> Bool { (a.curriculum, a.lesson) < (b.curriculum, b.lesson) }
  }

  /// Sessions, students, questions and attempts per lesson: three grouped counts merged by key.
  private static func lessonStatistics<Reader: SQLReader>(
    _ reader: Reader,
    session: Conditions,
    turn: Conditions,
    attempt: Conditions
  ) throws -> [LearningStatistics.LessonStatistics] {
    var lessons: [Key: LearningStatistics.LessonStatistics] = [:]
    func update(_ row: Reader.Row, _ body: (inout LearningStatistics.LessonStatistics) throws -> Void) throws
    {
      let key = Key(curriculum: try row.string(0), lesson: try row.string(1))
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
      try body(&entry)
      lessons[key] = entry
    }
    for row in try reader.rows(
      """
      SELECT s.curriculum_id, s.lesson_id, COUNT(*), COUNT(DISTINCT s.student_id)
      FROM session s \(session.whereClause) GROUP BY s.curriculum_id, s.lesson_id
      """,
      session.arguments
    ) {
      try update(row) {
        $0.sessions = try row.int(2)
        $0.students = try row.int(3)
      }
    }
    for row in try reader.rows(
      """
      SELECT s.curriculum_id, s.lesson_id, COUNT(*)
      FROM turn t JOIN session s ON s.id = t.session_id \(turn.whereClause) GROUP BY s.curriculum_id, s.lesson_id
      """,
      turn.arguments
    ) {
      try update(row) { $0.questions = try row.int(2) }
    }
    for row in try reader.rows(
      """
      SELECT a.curriculum_id, a.lesson_id, COUNT(*), SUM(a.correct)
      FROM attempt a \(attempt.whereClause) GROUP BY a.curriculum_id, a.lesson_id
      """,
      attempt.arguments
    ) {
      try update(row) {
        $0.attempts = try row.int(2)
        $0.correctAttempts = try row.int(3)
      }
    }
    return lessons.sorted { $0.key < $1.key }.map(\.value)
  }

  /// The distribution of `column` (non-null values) over `from`, by reading the values at the
  /// percentile ranks rather than the whole column.
  private static func distribution<Reader: SQLReader>(
    _ reader: Reader,
    column: String,
    from: String,
    _ arguments: [SQLValue]
  ) throws -> LearningStatistics.Distribution? {
    guard
      let totals = try reader.row(
        "SELECT COUNT(\(column)), CAST(AVG(\(column)) AS DOUBLE PRECISION) FROM \(from)",
        arguments
      ),
      case let count = try totals.int(0), count > 0
    else { return nil }
    func value(at rank: Int) throws -> Double {
      try reader.row(
        """
        SELECT CAST(\(column) AS DOUBLE PRECISION) FROM \(from) AND \(column) IS NOT NULL
        ORDER BY \(column) LIMIT 1 OFFSET ?
        """,
        arguments + [.integer(Int64(rank))]
      )?.real(0) ?? 0
    }
    let median =
      count % 2 == 1 ? try value(at: count / 2) : (try value(at: count / 2 - 1) + value(at: count / 2)) / 2
    let p90Rank = Int((0.9 * Double(count)).rounded(.up)) - 1
    return LearningStatistics.Distribution(
      count: count,
      median: median,
      p90: try value(at: max(0, p90Rank)),
      mean: try totals.real(1) ?? 0
    )
  }
}
