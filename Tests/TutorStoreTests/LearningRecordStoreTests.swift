import Foundation
import Synchronization
import Testing
import TutorTestSupport

@testable import TutorStore

/// The learning record on real temporary databases: every test on SQLite and on PostgreSQL.
@Suite struct LearningRecordStoreTests {
  @Test(arguments: TestDatabase.engines) func aBatchIsStoredWholeOrNotAtAll(
    engine: TestDatabase.Engine
  ) async throws {
    let db = try await TestDatabase.make(engine)
    let store = try await db.open()
    var batch = LearningRecordStore.RecordBatch()
    batch.students = [("noor", 5)]
    batch.sessions = [
      StoredSession(
        id: "s1",
        studentId: "noor",
        curriculumId: "c",
        lessonId: "l",
        state: .ended,
        createdAtMs: 5,
        updatedAtMs: 6
      )
    ]
    let turn = StoredTurn(
      id: "t1",
      sessionId: "s1",
      index: 0,
      question: "q",
      answer: "a",
      snippetIds: ["c/l#x"],
      promptTokens: 3,
      completionTokens: 1,
      latencyMilliseconds: 9,
      status: .completed,
      finishReason: "end_of_text",
      createdAtMs: 6,
      completedAtMs: 7
    )
    // A turn of a session that is neither stored nor in the batch: nothing of the batch is kept.
    var broken = batch
    broken.turns = [
      turn,
      StoredTurn(
        id: "t2",
        sessionId: "missing",
        index: 0,
        question: "q",
        answer: "",
        snippetIds: [],
        promptTokens: 1,
        completionTokens: 0,
        latencyMilliseconds: nil,
        status: .answering,
        finishReason: nil,
        createdAtMs: 6,
        completedAtMs: nil
      ),
    ]
    await #expect(throws: (any Error).self) { try await store.insert(broken) }
    #expect(try await store.session(id: "s1") == nil)
    batch.turns = [turn]
    try await store.insert(batch)
    #expect(try await store.session(id: "s1") == batch.sessions[0])
    #expect(try await store.turns(sessionId: "s1") == [turn], "ids and times are kept as given")
  }

  @Test(arguments: TestDatabase.engines) func everyRecordedTimeComesFromTheStoresClock(
    engine: TestDatabase.Engine
  ) async throws {
    let db = try await TestDatabase.make(engine)
    let clock = Mutex<Int64>(1_000)
    let store = try await db.open { clock.withLock { $0 } }
    let session = try await store.startSession(
      studentId: "kai",
      curriculumId: "photosynthesis",
      lessonId: "leaf"
    )
    #expect(session.createdAtMs == 1_000 && session.updatedAtMs == 1_000)
    clock.withLock { $0 = 2_500 }
    let turn = try await store.beginTurn(
      sessionId: session.id,
      question: "Why?",
      snippetIds: [],
      promptTokens: 1
    )
    #expect(turn.createdAtMs == 2_500)
    #expect(try await store.session(id: session.id)?.updatedAtMs == 2_500, "a question touches its session")
    clock.withLock { $0 = 4_000 }
    #expect(try await store.markInterruptedTurns() == 1)
    #expect(try await store.turns(sessionId: session.id).first?.completedAtMs == 4_000)
    clock.withLock { $0 = 7_000 }
    let ended = try #require(try await store.endSession(id: session.id))
    #expect(ended.endedAtMs == 7_000 && ended.updatedAtMs == 7_000)
  }

  @Test(arguments: TestDatabase.engines) func aTurnIsStoredBeforeItsAnswerAndSurvivesReopening(
    engine: TestDatabase.Engine
  ) async throws {
    let db = try await TestDatabase.make(engine)
    let store = try await db.open()  // creates the missing folder
    let session = try await store.startSession(
      studentId: "amira",
      curriculumId: "photosynthesis",
      lessonId: "plant-cells"
    )
    let turn = try await store.beginTurn(
      sessionId: session.id,
      question: "Why are leaves green?",
      snippetIds: ["photosynthesis/plant-cells#chloroplasts"],
      promptTokens: 312
    )
    #expect(turn.index == 0 && turn.status == .answering)
    try await store.finishTurn(
      id: turn.id,
      answer: "Chlorophyll reflects green light.",
      completionTokens: 9,
      latencyMilliseconds: 850,
      status: .completed,
      finishReason: "stop_sequence"
    )
    let second = try await store.beginTurn(
      sessionId: session.id,
      question: "And at night?",
      snippetIds: [],
      promptTokens: 400
    )
    #expect(second.index == 1)

    // A new process opens the same file: everything acknowledged is there.
    let reopened = try await db.open()
    #expect(try await reopened.session(id: session.id) == session.with(updatedAtMs: second.createdAtMs))
    let turns = try await reopened.turns(sessionId: session.id)
    #expect(turns.map(\.question) == ["Why are leaves green?", "And at night?"])
    #expect(turns[0].answer == "Chlorophyll reflects green light.")
    #expect(turns[0].snippetIds == ["photosynthesis/plant-cells#chloroplasts"])
    #expect(turns[0].status == .completed && turns[0].finishReason == "stop_sequence")
    #expect(
      turns[0].promptTokens == 312 && turns[0].completionTokens == 9 && turns[0].latencyMilliseconds == 850
    )

    // The second turn was still answering when "the server died": it is marked, not lost.
    #expect(try await reopened.markInterruptedTurns() == 1)
    #expect(try await reopened.turns(sessionId: session.id).last?.status == .interrupted)
    #expect(try await reopened.markInterruptedTurns() == 0)
    #expect(try reopened.integrityCheck() == "ok")
  }

  @Test(arguments: TestDatabase.engines)
  func aNulCharacterIsStoredAsTheReplacementCharacterOnBothEngines(engine: TestDatabase.Engine) async throws {
    // GPT-2's vocabulary has a token for byte 0, so a model can emit it; PostgreSQL's text cannot
    // hold it. Both engines store U+FFFD instead, so that they keep the same record.
    let db = try await TestDatabase.make(engine)
    let store = try await db.open()
    let session = try await store.startSession(studentId: "nul", curriculumId: "c", lessonId: "l")
    let turn = try await store.beginTurn(
      sessionId: session.id,
      question: "a\u{0}b",
      snippetIds: [],
      promptTokens: 1
    )
    try await store.finishTurn(
      id: turn.id,
      answer: "x\u{0}y",
      completionTokens: 2,
      latencyMilliseconds: 1,
      status: .completed,
      finishReason: "length"
    )
    let stored = try #require(try await store.turns(sessionId: session.id).first)
    #expect(stored.question == "a\u{FFFD}b" && stored.answer == "x\u{FFFD}y")
  }

  @Test(arguments: TestDatabase.engines)
  func oneQuestionAtATimePerSessionAcrossProcesses(engine: TestDatabase.Engine) async throws {
    let db = try await TestDatabase.make(engine)
    // Two stores on one database stand for two replicas.
    let (first, second) = (try await db.open(), try await db.open())
    let session = try await first.startSession(studentId: "ada", curriculumId: "c", lessonId: "l")
    // Both ask at once: the database lets exactly one in.
    func ask(_ store: LearningRecordStore, _ question: String) async -> Result<StoredTurn, any Error> {
      do {
        return .success(
          try await store.beginTurn(
            sessionId: session.id,
            question: question,
            snippetIds: [],
            promptTokens: 1
          )
        )
      } catch {
        return .failure(error)
      }
    }
    async let a = ask(first, "a")
    async let b = ask(second, "b")
    let results = await [a, b]
    let stored = results.compactMap { try? $0.get() }
    #expect(stored.count == 1)
    for case .failure(let error) in results {
      #expect(error as? TutorStoreError == .sessionBusy(session.id))
    }
    let answering = try #require(stored.first)
    try await first.finishTurn(
      id: answering.id,
      answer: "done",
      completionTokens: 1,
      latencyMilliseconds: 1,
      status: .completed,
      finishReason: "end_of_text"
    )
    // Once it is answered, the next question may come through either.
    let next = try await second.beginTurn(
      sessionId: session.id,
      question: "c",
      snippetIds: [],
      promptTokens: 1
    )
    #expect(next.index == 1)
  }

  @Test(arguments: TestDatabase.engines)
  func turnsOfAReplicaWhoseLeaseExpiredAreInterruptedByAnother(engine: TestDatabase.Engine) async throws {
    let db = try await TestDatabase.make(engine)
    let clock = Mutex<Int64>(10_000)
    let (alive, dying) = (
      try await db.open { clock.withLock { $0 } }, try await db.open { clock.withLock { $0 } }
    )
    try await alive.renewLease()
    try await dying.renewLease()
    let s1 = try await alive.startSession(studentId: "a", curriculumId: "c", lessonId: "l")
    let s2 = try await dying.startSession(studentId: "b", curriculumId: "c", lessonId: "l")
    let kept = try await alive.beginTurn(sessionId: s1.id, question: "q", snippetIds: [], promptTokens: 1)
    let lost = try await dying.beginTurn(sessionId: s2.id, question: "q", snippetIds: [], promptTokens: 1)
    // Within the lease nothing is touched.
    clock.withLock { $0 = 14_000 }
    #expect(try await alive.interruptOrphanedTurns(leaseMilliseconds: 5_000) == 0)
    // `dying` stops renewing; `alive` renews and, past the lease, interrupts the other's turn only.
    clock.withLock { $0 = 16_000 }
    try await alive.renewLease()
    #expect(try await alive.interruptOrphanedTurns(leaseMilliseconds: 5_000) == 1)
    #expect(try await alive.turns(sessionId: s2.id).first?.status == .interrupted)
    #expect(try await alive.turns(sessionId: s2.id).first?.completedAtMs == 16_000)
    #expect(try await alive.turns(sessionId: s1.id).first?.status == .answering)
    #expect(try await alive.turns(sessionId: s1.id).first?.id == kept.id && lost.id != kept.id)
    #expect(try await alive.interruptOrphanedTurns(leaseMilliseconds: 5_000) == 0)
  }

  @Test(arguments: TestDatabase.engines) func endedAndUnknownSessionsRefuseTurns(
    engine: TestDatabase.Engine
  ) async throws {
    let db = try await TestDatabase.make(engine)
    let store = try await db.open()
    await #expect(throws: TutorStoreError.sessionNotFound("nope")) {
      try await store.beginTurn(sessionId: "nope", question: "q", snippetIds: [], promptTokens: 1)
    }
    let session = try await store.startSession(
      studentId: "ben",
      curriculumId: "python-intro",
      lessonId: "loops"
    )
    let ended = try await store.endSession(id: session.id)
    #expect(ended?.state == .ended && ended?.endedAt != nil)
    await #expect(throws: TutorStoreError.sessionEnded(session.id)) {
      try await store.beginTurn(sessionId: session.id, question: "q", snippetIds: [], promptTokens: 1)
    }
    #expect(try await store.endSession(id: "nope") == nil)
  }

  @Test(arguments: TestDatabase.engines) func sessionsArePagedNewestFirstWithoutGapsOrRepeats(
    engine: TestDatabase.Engine
  ) async throws {
    let db = try await TestDatabase.make(engine)
    let store = try await db.open()
    var created: [String] = []
    for i in 0 ..< 7 {
      created.append(
        try await store.startSession(
          studentId: i % 2 == 0 ? "chen" : "dara",
          curriculumId: "fractions-ratios",
          lessonId: "ratios"
        ).id
      )
    }
    _ = try await store.startSession(studentId: "chen", curriculumId: "python-intro", lessonId: "lists")
    var seen: [String] = []
    var token: String?
    repeat {
      let page = try await store.listSessions(
        studentId: nil,
        curriculumId: "fractions-ratios",
        pageSize: 3,
        pageToken: token
      )
      #expect(page.sessions.count <= 3)
      seen += page.sessions.map(\.id)
      token = page.nextPageToken
    } while token != nil
    #expect(Set(seen) == Set(created))
    #expect(seen.count == created.count)
    let chen = try await store.listSessions(
      studentId: "chen",
      curriculumId: nil,
      pageSize: 50,
      pageToken: nil
    )
    #expect(chen.sessions.count == 5 && chen.nextPageToken == nil)
    #expect(zip(chen.sessions, chen.sessions.dropFirst()).allSatisfy { $0.createdAtMs >= $1.createdAtMs })
    await #expect(throws: TutorStoreError.invalidPageToken) {
      try await store.listSessions(
        studentId: "chen",
        curriculumId: nil,
        pageSize: 2,
        pageToken: "not-a-token"
      )
    }
  }

  @Test(arguments: TestDatabase.engines) func attemptsUpdateMasteryAndDeletionRemovesEverything(
    engine: TestDatabase.Engine
  ) async throws {
    let db = try await TestDatabase.make(engine)
    let store = try await db.open()
    let session = try await store.startSession(
      studentId: "eve",
      curriculumId: "fractions-ratios",
      lessonId: "ratios"
    )
    let other = try await store.startSession(
      studentId: "finn",
      curriculumId: "fractions-ratios",
      lessonId: "ratios"
    )
    _ = try await store.beginTurn(
      sessionId: session.id,
      question: "What is 12:8?",
      snippetIds: [],
      promptTokens: 10
    )
    for (i, correct) in [false, true].enumerated() {
      try await store.recordAttempt(
        StoredAttempt(
          id: "a\(i)",
          sessionId: session.id,
          studentId: "eve",
          curriculumId: "fractions-ratios",
          lessonId: "ratios",
          exerciseId: "fr-ratio-simplify",
          objectiveId: "write-simplify-ratio",
          answer: correct ? "3:2" : "6:4",
          correct: correct,
          hintsRevealed: 1,
          createdAtMs: Date().millisecondsSince1970
        ),
        mastery: correct ? 0.62 : 0.21
      )
    }
    let mastery = try await store.mastery(studentId: "eve")
    #expect(mastery.count == 1)
    #expect(mastery.first?.probability == 0.62)

    let report = try await store.deleteStudentData(studentId: "eve")
    #expect(report == .init(found: true, sessions: 1, turns: 1, attempts: 2, masteryRecords: 3))
    #expect(try await store.session(id: session.id) == nil)
    #expect(try await store.mastery(studentId: "eve").isEmpty)
    #expect(try await store.session(id: other.id) != nil)  // other students untouched
    #expect(try store.integrityCheck() == "ok")
  }
}

extension StoredSession {
  fileprivate func with(updatedAtMs: Int64) -> StoredSession {
    var copy = self
    copy.updatedAtMs = updatedAtMs
    return copy
  }
}
