import Foundation
import Synchronization
import Testing
import TutorTestSupport

@testable import TutorStore

/// Flags stored with turns, listed for teachers, and kept when retention removes the text: on
/// SQLite and on PostgreSQL.
@Suite struct FlagAndRetentionTests {
  final class Clock: Sendable {
    let now = Mutex<Int64>(0)
  }

  static let selfHarm = TurnFlag(source: .question, category: "self_harm", severity: "high")
  static let bullying = TurnFlag(source: .question, category: "bullying", severity: "medium")
  static let email = TurnFlag(source: .question, category: "personal_data", severity: "low")
  static let answer = TurnFlag(source: .answer, category: "violence", severity: "high")
  static let exerciseAnswer = TurnFlag(source: .exerciseAnswer, category: "self_harm", severity: "high")

  /// Four turns at times 1000…4000 in two curricula; returns the store and the turns' ids.
  /// The database is dropped when `TestDatabase` goes, so it is returned too.
  static func record(
    _ engine: TestDatabase.Engine,
    clock: Clock
  ) async throws
    -> (LearningRecordStore, [String], TestDatabase)
  {
    let db = try await TestDatabase.make(engine)
    let store = try await db.open { clock.now.withLock { $0 } }
    let plants = try await store.startSession(studentId: "ana", curriculumId: "plants", lessonId: "l")
    let maths = try await store.startSession(studentId: "ben", curriculumId: "maths", lessonId: "l")
    var ids: [String] = []
    let asked: [(StoredSession, [TurnFlag], [TurnFlag]?)] = [
      (plants, [Self.selfHarm, Self.email], nil),
      (plants, [], nil),
      (maths, [Self.bullying], nil),
      (maths, [], [Self.answer]),
    ]
    for (i, (session, flags, answerFlags)) in asked.enumerated() {
      clock.now.withLock { $0 = Int64(i + 1) * 1000 }
      let turn = try await store.beginTurn(
        sessionId: session.id,
        question: "question \(i)",
        snippetIds: [],
        promptTokens: 3,
        flags: flags
      )
      try await store.finishTurn(
        id: turn.id,
        answer: "answer \(i)",
        completionTokens: 2,
        latencyMilliseconds: 5,
        status: .completed,
        finishReason: "length",
        flags: answerFlags
      )
      ids.append(turn.id)
    }
    let attempt = StoredAttempt(
      id: "a1",
      sessionId: maths.id,
      studentId: "ben",
      curriculumId: "maths",
      lessonId: "l",
      exerciseId: "e",
      objectiveId: "o",
      answer: "3/4",
      correct: true,
      hintsRevealed: 0,
      createdAtMs: 1500,
      flags: [Self.exerciseAnswer]
    )
    try await store.recordAttempt(attempt, mastery: 0.7)
    return (store, ids, db)
  }

  @Test(arguments: TestDatabase.engines)
  func flaggedTurnsAreListedNewestFirstByCurriculumSeverityAndPage(engine: TestDatabase.Engine) async throws {
    let clock = Clock()
    let (store, ids, db) = try await Self.record(engine, clock: clock)
    defer { withExtendedLifetime(db) {} }
    defer { try? store.close() }
    let all = try await store.flaggedTurns(FlagFilter())
    #expect(all.turns.map(\.turn.id) == [ids[3], ids[2], "a1", ids[0]])
    // The flagged exercise answer: its exercise, the response as its text.
    #expect(all.turns[2].exerciseId == "e" && all.turns[2].turn.question == "3/4")
    #expect(all.turns[2].turn.flags == [Self.exerciseAnswer] && all.turns[0].exerciseId == nil)
    #expect(all.nextPageToken == nil)
    #expect(all.turns.last?.turn.flags == [Self.selfHarm, Self.email])
    #expect(all.turns.first?.turn.flags == [Self.answer])
    #expect(all.turns.last?.studentId == "ana" && all.turns.last?.curriculumId == "plants")

    let high = try await store.flaggedTurns(FlagFilter(minimumSeverity: "high"))
    #expect(high.turns.map(\.turn.id) == [ids[3], "a1", ids[0]])
    let medium = try await store.flaggedTurns(FlagFilter(minimumSeverity: "medium"))
    #expect(medium.turns.map(\.turn.id) == [ids[3], ids[2], "a1", ids[0]])
    let plants = try await store.flaggedTurns(FlagFilter(curriculumIds: ["plants"]))
    #expect(plants.turns.map(\.turn.id) == [ids[0]])
    let none = try await store.flaggedTurns(FlagFilter(curriculumIds: []))
    #expect(none.turns.isEmpty)
    let ben = try await store.flaggedTurns(FlagFilter(studentId: "ben"))
    #expect(ben.turns.map(\.turn.id) == [ids[3], ids[2], "a1"])
    let window = try await store.flaggedTurns(
      FlagFilter(since: Date(millisecondsSince1970: 2000), until: Date(millisecondsSince1970: 4000))
    )
    #expect(window.turns.map(\.turn.id) == [ids[2]])

    // Pages of one, following the tokens, give the same turns.
    var paged: [String] = []
    var filter = FlagFilter(pageSize: 1)
    while true {
      let page = try await store.flaggedTurns(filter)
      paged += page.turns.map(\.turn.id)
      guard let next = page.nextPageToken else { break }
      filter.pageToken = next
    }
    #expect(paged == all.turns.map(\.turn.id))
    await #expect(throws: TutorStoreError.self) {
      _ = try await store.flaggedTurns(FlagFilter(pageToken: "nonsense"))
    }
  }

  @Test(arguments: TestDatabase.engines)
  func retentionRemovesOldTextAndKeepsCountsMasteryAndFlags(engine: TestDatabase.Engine) async throws {
    let clock = Clock()
    let (store, ids, db) = try await Self.record(engine, clock: clock)
    defer { withExtendedLifetime(db) {} }
    defer { try? store.close() }
    let before = try await store.statistics(ExportFilter())
    let purged = try await store.purgeText(before: Date(millisecondsSince1970: 2500))
    #expect(purged.turns == 2 && purged.attempts == 1)
    // Idempotent: nothing left to remove.
    let again = try await store.purgeText(before: Date(millisecondsSince1970: 2500))
    #expect(again.turns == 0 && again.attempts == 0)

    let plants = try await store.turns(
      sessionId: try #require(store.flaggedTurns(FlagFilter()).turns.last).turn.sessionId
    )
    #expect(plants.map(\.question) == ["", ""] && plants.map(\.answer) == ["", ""])
    #expect(plants.first?.flags == [Self.selfHarm, Self.email])
    let flagged = try await store.flaggedTurns(FlagFilter())
    #expect(flagged.turns.map(\.turn.id) == [ids[3], ids[2], "a1", ids[0]])
    #expect(flagged.turns.map(\.turn.question) == ["question 3", "question 2", "", ""])
    let activity = try await store.activity(studentId: "ben")
    #expect(activity.attempts.map(\.answer) == [""])
    #expect(activity.attempts.first?.flags == [Self.exerciseAnswer])
    #expect(try await store.mastery(studentId: "ben").map(\.probability) == [0.7])
    // Counts, and so statistics, are unchanged.
    #expect(try await store.statistics(ExportFilter()) == before)
  }
}
