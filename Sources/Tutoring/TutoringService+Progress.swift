import Curriculum
import Engine
import Foundation
import Logging
import Synchronization
import TutorStore

// Progress: a student's mastery, lessons and effort per curriculum.
extension TutoringService {
  // MARK: Progress

  /// A student's progress in one curriculum.
  public struct CurriculumProgress: Sendable, Equatable {
    public var curriculumId: String
    public var mastery: [ObjectiveMastery]
    public var lessonsCompleted: [String]
    public var attempts: Int
    public var correctAttempts: Int
    public var hintsUsed: Int
    public var questionsAsked: Int
    /// Sum over sessions of the time from start to last activity.
    public var timeSpent: Duration
    public var lastActiveAt: Date?
  }

  /// Progress in every curriculum the student used (or only `curriculumId`).
  public func progress(studentId: String, curriculumId: String?) async throws -> [CurriculumProgress] {
    try checkIdentifier(studentId, field: "student_id")
    let filter = curriculumId.flatMap { $0.isEmpty ? nil : $0 }
    let activity = try await store.activity(studentId: studentId, curriculumId: filter)
    guard !activity.sessions.isEmpty || !activity.mastery.isEmpty else {
      throw TutoringError.notFound("no learning records for student '\(studentId)'")
    }
    let snapshot = catalog.snapshot
    let ids = Set(activity.sessions.map(\.curriculumId)).union(activity.mastery.map(\.curriculumId)).sorted()
    return ids.map { id in
      let curriculum = snapshot.curriculum(id)
      let sessions = activity.sessions.filter { $0.curriculumId == id }
      let sessionIds = Set(sessions.map(\.id))
      let turns = activity.turns.filter { sessionIds.contains($0.sessionId) }
      let attempts = activity.attempts.filter { $0.curriculumId == id }
      var mastery: [ObjectiveMastery] = []
      for record in activity.mastery where record.curriculumId == id {
        let lesson = curriculum?.lessons.first { $0.objectives.contains { $0.id == record.objectiveId } }
        let objective = lesson?.objectives.first { $0.id == record.objectiveId }
        let threshold = (objective?.mastery ?? curriculum?.mastery ?? MasteryParameters()).threshold
        mastery.append(
          ObjectiveMastery(
            curriculumId: id,
            lessonId: lesson?.id ?? "",
            objectiveId: record.objectiveId,
            probability: record.probability,
            mastered: record.probability >= threshold
          )
        )
      }
      let mastered = Set(mastery.filter(\.mastered).map(\.objectiveId))
      let completed = (curriculum?.lessons ?? []).filter {
        !$0.objectives.isEmpty && $0.objectives.allSatisfy { mastered.contains($0.id) }
      }
      // Hints revealed per exercise and session: one per wrong attempt, up to the hints it has.
      var wrong: [String: Int] = [:]
      for attempt in attempts where !attempt.correct {
        wrong[attempt.sessionId + "\n" + attempt.exerciseId, default: 0] += 1
      }
      let hints = wrong.reduce(0) { total, entry in
        let exerciseId = String(entry.key.split(separator: "\n").last ?? "")
        let available =
          curriculum?.lessons.lazy.compactMap { $0.exercise(exerciseId) }.first?.hints.count ?? entry.value
        return total + min(entry.value, available)
      }
      var spent: Int64 = 0
      var last: Int64 = 0
      for session in sessions {
        var end = max(session.updatedAtMs, session.endedAtMs ?? 0)
        for turn in turns where turn.sessionId == session.id {
          end = max(end, turn.completedAtMs ?? turn.createdAtMs)
        }
        for attempt in attempts where attempt.sessionId == session.id { end = max(end, attempt.createdAtMs) }
        spent += end - session.createdAtMs
        last = max(last, end)
      }
      return CurriculumProgress(
        curriculumId: id,
        mastery: mastery,
        lessonsCompleted: completed.map(\.id),
        attempts: attempts.count,
        correctAttempts: attempts.filter(\.correct).count,
        hintsUsed: hints,
        questionsAsked: turns.count,
        timeSpent: .milliseconds(spent),
        lastActiveAt: last > 0 ? Date(millisecondsSince1970: last) : nil
      )
    }
  }
}
