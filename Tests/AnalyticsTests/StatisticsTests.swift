import Analytics
import Foundation
import Testing
import TutorStore
import TutorTestSupport

/// `LearningRecordStore.statistics` against counts worked out by hand, and its two renderings.
@Suite struct StatisticsTests {
  /// Ada and Bo in fractions/decimals, Cy in photosynthesis/light:
  /// - turns: Ada 1000 ms/10 tokens and 3000 ms/30 tokens, Bo 2000 ms/20 tokens and one still
  ///   answering;
  /// - attempts: Ada a✗(hint 1) a✓ b✓, Bo a✗(hint 1) a✗(hint 2), Cy c✓.
  static func makeStore(_ engine: TestDatabase.Engine) async throws -> (LearningRecordStore, TestDatabase) {
    let database = try await TestDatabase.make(engine)
    let store = try await database.open()
    var clock = Date().millisecondsSince1970
    func session(_ student: String, _ curriculum: String, _ lesson: String) async throws -> String {
      try await store.startSession(studentId: student, curriculumId: curriculum, lessonId: lesson).id
    }
    func turn(_ session: String, latency: Int?, tokens: Int) async throws {
      let turn = try await store.beginTurn(
        sessionId: session,
        question: "Why?",
        snippetIds: [],
        promptTokens: 50
      )
      guard let latency else { return }
      _ = try await store.finishTurn(
        id: turn.id,
        answer: "Because.",
        completionTokens: tokens,
        latencyMilliseconds: latency,
        status: .completed,
        finishReason: "end_of_text"
      )
    }
    func attempt(
      _ session: String,
      _ student: String,
      _ curriculum: String,
      _ lesson: String,
      _ exercise: String,
      correct: Bool,
      hint: Int? = nil
    ) async throws {
      clock += 1
      try await store.recordAttempt(
        StoredAttempt(
          id: UUID().uuidString.lowercased(),
          sessionId: session,
          studentId: student,
          curriculumId: curriculum,
          lessonId: lesson,
          exerciseId: exercise,
          objectiveId: "o",
          answer: "x",
          correct: correct,
          hintsRevealed: 0,
          hintRevealed: hint,
          createdAtMs: clock
        )
      )
    }
    let ada = try await session("ada", "fractions", "decimals")
    let bo = try await session("bo", "fractions", "decimals")
    let cy = try await session("cy", "photosynthesis", "light")
    try await turn(ada, latency: 1000, tokens: 10)
    try await turn(ada, latency: 3000, tokens: 30)
    try await turn(bo, latency: 2000, tokens: 20)
    try await turn(bo, latency: nil, tokens: 0)
    try await attempt(ada, "ada", "fractions", "decimals", "a", correct: false, hint: 1)
    try await attempt(ada, "ada", "fractions", "decimals", "a", correct: true)
    try await attempt(ada, "ada", "fractions", "decimals", "b", correct: true)
    try await attempt(bo, "bo", "fractions", "decimals", "a", correct: false, hint: 1)
    try await attempt(bo, "bo", "fractions", "decimals", "a", correct: false, hint: 2)
    try await attempt(cy, "cy", "photosynthesis", "light", "c", correct: true)
    return (store, database)
  }

  @Test(arguments: TestDatabase.engines) func countsRatiosAndPercentilesMatchTheHandCount(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let s = try await store.statistics(ExportFilter())
    #expect(s.sessions == 3 && s.activeStudents == 3)
    #expect(s.questions == 4 && s.explanations == 3)
    #expect(s.attempts == 6 && s.correctAttempts == 3 && s.accuracy == 0.5 && s.hintsRevealed == 3)
    #expect(s.latencyMs == .init(count: 3, median: 2000, p90: 3000, mean: 2000))
    #expect(s.tokensPerAnswer == .init(count: 3, median: 20, p90: 30, mean: 20))
    #expect(
      s.lessons.map { "\($0.curriculumId)/\($0.lessonId)" } == ["fractions/decimals", "photosynthesis/light"]
    )
    let decimals = s.lessons[0]
    #expect(decimals.sessions == 2 && decimals.students == 2 && decimals.questions == 4)
    #expect(decimals.attempts == 5 && decimals.correctAttempts == 2 && decimals.accuracy == 0.4)
    #expect(s.lessons[1].questions == 0 && s.lessons[1].accuracy == 1)
    // a: 1 of 4 right, nobody right first time; then b and c (all right, one attempt each) by id.
    #expect(s.hardestExercises.map(\.exerciseId) == ["a", "b", "c"])
    let a = s.hardestExercises[0]
    #expect(a.attempts == 4 && a.correctAttempts == 1 && a.accuracy == 0.25)
    #expect(a.students == 2 && a.sessions == 2 && a.firstTryCorrect == 0 && a.firstTryAccuracy == 0)
    #expect(a.hintsRevealed == 3)
    #expect(try await store.statistics(ExportFilter(), hardestExercises: 1).hardestExercises.count == 1)
  }

  @Test(arguments: TestDatabase.engines) func filtersNarrowEveryCount(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let light = try await store.statistics(ExportFilter(curriculumId: "photosynthesis"))
    #expect(light.sessions == 1 && light.activeStudents == 1 && light.questions == 0)
    #expect(light.attempts == 1 && light.latencyMs == nil && light.lessons.count == 1)
    let bo = try await store.statistics(ExportFilter(studentId: "bo"))
    #expect(bo.attempts == 2 && bo.accuracy == 0 && bo.questions == 2 && bo.explanations == 1)
    #expect(bo.latencyMs?.median == 2000)
    // Two values: the median is their mean, the 90th percentile the larger.
    let ada = try await store.statistics(ExportFilter(studentId: "ada"))
    #expect(ada.tokensPerAnswer == .init(count: 2, median: 20, p90: 30, mean: 20))
    let future = try await store.statistics(ExportFilter(since: Date().addingTimeInterval(3600)))
    #expect(future.sessions == 0 && future.activeStudents == 0 && future.attempts == 0)
    #expect(future.accuracy == nil && future.lessons.isEmpty && future.hardestExercises.isEmpty)
  }

  @Test(arguments: TestDatabase.engines) func tableAndJSONSayTheSame(engine: TestDatabase.Engine) async throws
  {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let s = try await store.statistics(ExportFilter())
    let table = StatisticsReport.table(s)
    #expect(table.contains("accuracy                50.0%"))
    #expect(
      table.contains("latency per answer      median 2,000 ms, p90 3,000 ms, mean 2,000 ms (3 answers)")
    )
    let lines = table.split(separator: "\n").map(String.init)
    let header = try #require(lines.firstIndex { $0.hasPrefix("  curriculum") && $0.contains("sessions") })
    #expect(
      lines[header + 2] == "  fractions       decimals         2         2          4         5     40.0%"
    )
    #expect(
      lines.contains {
        $0.hasPrefix("  fractions       decimals  a") && $0.hasSuffix("25.0%       0.0%      3")
      }
    )
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(StatisticsReport.json(s).utf8)) as? [String: Any]
    )
    #expect(json["sessions"] as? Int == 3 && json["accuracy"] as? Double == 0.5)
    #expect((json["latency_ms"] as? [String: Any])?["median"] as? Double == 2000)
    let hardest = try #require(json["hardest_exercises"] as? [[String: Any]])
    #expect(
      hardest.first?["exercise_id"] as? String == "a" && hardest.first?["first_try_accuracy"] as? Double == 0
    )
    #expect((json["lessons"] as? [[String: Any]])?.count == 2)
  }
}
