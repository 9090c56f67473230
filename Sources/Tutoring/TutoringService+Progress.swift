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
  /// Students read their own; teachers must name a curriculum they cover (unless their token
  /// covers all); analysts and admins read anyone's.
  public func progress(
    by caller: Principal,
    studentId: String,
    curriculumId: String?
  ) async throws -> [CurriculumProgress] {
    try caller.authorize(.studentProgress)
    try caller.checkProgress(
      studentId: studentId,
      curriculumId: curriculumId.flatMap { $0.isEmpty ? nil : $0 }
    )
    try checkIdentifier(studentId, field: "student_id")
    let filter = curriculumId.flatMap { $0.isEmpty ? nil : $0 }
    let activity = try await store.activity(studentId: studentId, curriculumId: filter)
    guard !activity.sessions.isEmpty || !activity.mastery.isEmpty else {
      throw TutoringError.notFound("no learning records for student '\(studentId)'")
    }
    let snapshot = catalog.snapshot
    return ProgressReport.make(activity) { snapshot.curriculum($0) }
  }
}
