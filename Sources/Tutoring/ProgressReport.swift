import Curriculum
import Foundation
import TutorStore

/// A student's progress per curriculum, computed from their stored activity and the curricula as
/// served now. Pure: no store, no clock; ``TutoringService/progress(studentId:curriculumId:)``
/// reads the activity and calls it.
enum ProgressReport {
  static func make(
    _ activity: LearningRecordStore.StudentActivity,
    curriculum: (String) -> Course?
  ) -> [TutoringService.CurriculumProgress] {
    let ids = Set(activity.sessions.map(\.curriculumId)).union(activity.mastery.map(\.curriculumId)).sorted()
    return ids.map { id in
      let served = curriculum(id)
      let sessions = activity.sessions.filter { $0.curriculumId == id }
      let sessionIds = Set(sessions.map(\.id))
      let turns = activity.turns.filter { sessionIds.contains($0.sessionId) }
      let attempts = activity.attempts.filter { $0.curriculumId == id }
      let mastery = activity.mastery.filter { $0.curriculumId == id }.map { Self.mastery($0, in: served) }
      let mastered = Set(mastery.filter(\.mastered).map(\.objectiveId))
      let completed = (served?.lessons ?? []).filter {
        !$0.objectives.isEmpty && $0.objectives.allSatisfy { mastered.contains($0.id) }
      }
      let time = Self.timeSpent(sessions: sessions, turns: turns, attempts: attempts)
      return TutoringService.CurriculumProgress(
        curriculumId: id,
        mastery: mastery,
        lessonsCompleted: completed.map(\.id),
        attempts: attempts.count,
        correctAttempts: attempts.filter(\.correct).count,
        hintsUsed: Self.hintsUsed(attempts, in: served),
        questionsAsked: turns.count,
        timeSpent: .milliseconds(time.spent),
        lastActiveAt: time.last > 0 ? Date(millisecondsSince1970: time.last) : nil
      )
    }
  }

  /// A mastery record with its lesson and whether it passes its objective's threshold.
  static func mastery(_ record: StoredMastery, in curriculum: Course?) -> TutoringService.ObjectiveMastery {
    let lesson = curriculum?.lessons.first { $0.objectives.contains { $0.id == record.objectiveId } }
    let objective = lesson?.objectives.first { $0.id == record.objectiveId }
    let threshold = (objective?.mastery ?? curriculum?.mastery ?? MasteryParameters()).threshold
    return TutoringService.ObjectiveMastery(
      curriculumId: record.curriculumId,
      lessonId: lesson?.id ?? "",
      objectiveId: record.objectiveId,
      probability: record.probability,
      mastered: record.probability >= threshold
    )
  }

  /// Hints revealed: one per wrong attempt at an exercise in a session, up to the hints it has.
  static func hintsUsed(_ attempts: [StoredAttempt], in curriculum: Course?) -> Int {
    struct Key: Hashable {
      var sessionId: String
      var exerciseId: String
    }
    var wrong: [Key: Int] = [:]
    for attempt in attempts where !attempt.correct {
      wrong[Key(sessionId: attempt.sessionId, exerciseId: attempt.exerciseId), default: 0] += 1
    }
    return wrong.reduce(0) { total, entry in
      let available =
        curriculum?.lessons.lazy.compactMap { $0.exercise(entry.key.exerciseId) }.first?.hints.count
        ?? entry.value
      return total + min(entry.value, available)
    }
  }

  /// Time from each session's start to its last activity (summed), and the latest activity, in
  /// milliseconds since 1970.
  static func timeSpent(
    sessions: [StoredSession],
    turns: [StoredTurn],
    attempts: [StoredAttempt]
  ) -> (spent: Int64, last: Int64) {
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
    return (spent, last)
  }
}
