import Foundation
import TutorStore

extension LearningRecordStore {
  /// Fills the store with a made-up learning record, for benchmarks of exports and statistics:
  /// `students` students, each with `sessionsPerStudent` sessions of `turnsPerSession` completed
  /// turns and `attemptsPerSession` attempts (alternately wrong, then right, at one exercise per
  /// two attempts). Curricula, lessons, exercises and objectives are named `c0`, `l0`, `e0`,
  /// `o0`…; times start at `start` and advance a second per record. Written in transactions of
  /// 10,000 records through ``insert(_:)``. Returns the number of turns and attempts written.
  @discardableResult
  public func writeSyntheticHistory(
    students: Int,
    sessionsPerStudent: Int,
    turnsPerSession: Int,
    attemptsPerSession: Int,
    start: Date = Date(timeIntervalSince1970: 1_767_225_600)
  ) async throws -> (turns: Int, attempts: Int) {
    var clock = start.millisecondsSince1970
    var turns = 0
    var attempts = 0
    var pending = RecordBatch()
    func flush() async throws {
      try await insert(pending)
      pending = RecordBatch()
    }
    for s in 0 ..< students {
      let studentId = "student-\(s)"
      pending.students.append((studentId, clock))
      for n in 0 ..< sessionsPerStudent {
        let curriculum = "c\(n % 3)"
        let lesson = "l\(n % 5)"
        let sessionId = UUID().uuidString.lowercased()
        pending.sessions.append(
          StoredSession(
            id: sessionId,
            studentId: studentId,
            curriculumId: curriculum,
            lessonId: lesson,
            lessonChosen: true,
            state: .ended,
            createdAtMs: clock,
            updatedAtMs: clock,
            endedAtMs: clock + Int64(1000 * (turnsPerSession + attemptsPerSession))
          )
        )
        for i in 0 ..< max(turnsPerSession, attemptsPerSession) {
          if i < turnsPerSession {
            clock += 1000
            pending.turns.append(
              StoredTurn(
                id: UUID().uuidString.lowercased(),
                sessionId: sessionId,
                index: i,
                question: "Question \(i) of session \(n): what is \(i) + \(n)?",
                answer:
                  "The sum of \(i) and \(n) is \(i + n), because adding counts on from the first number.",
                snippetIds: ["\(curriculum)/\(lesson)#\(i % 4)", "\(curriculum)/\(lesson)#\((i + 1) % 4)"],
                promptTokens: 200 + i,
                completionTokens: 40 + i % 20,
                latencyMilliseconds: 800 + (i * 37) % 400,
                status: .completed,
                finishReason: "end_of_text",
                createdAtMs: clock,
                completedAtMs: clock + 900
              )
            )
            turns += 1
          }
          if i < attemptsPerSession {
            clock += 1000
            let correct = i % 2 == 1
            pending.attempts.append(
              StoredAttempt(
                id: UUID().uuidString.lowercased(),
                sessionId: sessionId,
                studentId: studentId,
                curriculumId: curriculum,
                lessonId: lesson,
                exerciseId: "e\(i / 2)",
                objectiveId: "o\(i / 4)",
                answer: correct ? "\(i + n)" : "\(i + n + 1)",
                correct: correct,
                hintsRevealed: correct ? 1 : 0,
                hintRevealed: correct ? nil : 1,
                createdAtMs: clock
              )
            )
            attempts += 1
          }
          if pending.count >= 10_000 { try await flush() }
        }
      }
    }
    try await flush()
    return (turns, attempts)
  }
}
