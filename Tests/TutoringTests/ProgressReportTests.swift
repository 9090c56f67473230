import Curriculum
import Foundation
import Testing

@testable import TutorStore
@testable import Tutoring

/// The progress report from stored activity, without a store or a server.
@Suite struct ProgressReportTests {
  @Test func masteryHintsTimeAndLessonsFromActivity() throws {
    let library = CurriculumLibrary.load(root: HybridRetrievalTests.curricula)
    let curriculum = try #require(library.curriculum("photosynthesis"))
    let lesson = try #require(
      curriculum.lessons.first { !$0.objectives.isEmpty && $0.exercises.contains { $0.hints.count >= 1 } }
    )
    let exercise = try #require(lesson.exercises.first { $0.hints.count >= 1 })
    func session(_ id: String, start: Int64, updated: Int64) -> StoredSession {
      StoredSession(
        id: id,
        studentId: "s",
        curriculumId: curriculum.id,
        lessonId: lesson.id,
        state: .active,
        createdAtMs: start,
        updatedAtMs: updated,
        endedAtMs: nil
      )
    }
    func attempt(_ session: String, correct: Bool, at: Int64) -> StoredAttempt {
      StoredAttempt(
        id: UUID().uuidString,
        sessionId: session,
        studentId: "s",
        curriculumId: curriculum.id,
        lessonId: lesson.id,
        exerciseId: exercise.id,
        objectiveId: exercise.objective,
        answer: "x",
        correct: correct,
        hintsRevealed: 0,
        createdAtMs: at
      )
    }
    let turn = StoredTurn(
      id: "t",
      sessionId: "a",
      index: 0,
      question: "q",
      answer: "a",
      snippetIds: [],
      promptTokens: 1,
      completionTokens: 1,
      latencyMilliseconds: 1,
      status: .completed,
      finishReason: nil,
      createdAtMs: 1_500,
      completedAtMs: 9_000
    )
    // Wrong answers beyond the exercise's hints reveal nothing more: at most hints.count per session.
    let wrongs = (0 ..< exercise.hints.count + 2).map { attempt("a", correct: false, at: 2_000 + Int64($0)) }
    let activity = LearningRecordStore.StudentActivity(
      sessions: [session("a", start: 1_000, updated: 2_000), session("b", start: 20_000, updated: 25_000)],
      turns: [turn],
      attempts: wrongs + [attempt("b", correct: false, at: 21_000), attempt("b", correct: true, at: 22_000)],
      mastery: lesson.objectives.map {
        StoredMastery(
          studentId: "s",
          curriculumId: curriculum.id,
          objectiveId: $0.id,
          probability: 0.99,
          updatedAtMs: 1
        )
      }
    )
    let report = ProgressReport.make(activity) { $0 == curriculum.id ? curriculum : nil }
    #expect(report.count == 1)
    let progress = try #require(report.first)
    #expect(progress.curriculumId == curriculum.id)
    #expect(progress.attempts == wrongs.count + 2)
    #expect(progress.correctAttempts == 1)
    #expect(progress.hintsUsed == exercise.hints.count + 1, "capped in session a, one in session b")
    #expect(progress.questionsAsked == 1)
    // Session a: 1,000 → 9,000 (its turn's end); session b: 20,000 → 25,000.
    #expect(progress.timeSpent == .milliseconds(8_000 + 5_000))
    #expect(progress.lastActiveAt == Date(millisecondsSince1970: 25_000))
    #expect(progress.mastery.allSatisfy { $0.mastered && $0.lessonId == lesson.id })
    #expect(progress.lessonsCompleted.contains(lesson.id))
  }
}
