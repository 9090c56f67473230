import Foundation
import Logging
import TutorStore

// What needs an adult: flagged turns for teachers, and the retention policy a district sets.

extension TurnFlag {
  /// Screening's findings in a message from `source`, as the store keeps them.
  static func flags(_ findings: [MessageScreen.Finding], source: Source) -> [TurnFlag] {
    findings.map { TurnFlag(source: source, category: $0.category.rawValue, severity: $0.severity.rawValue) }
  }
}
extension TutoringService {
  /// One page of flagged turns, newest first. Teachers see sessions in their curricula (a
  /// teacher token covering some curricula lists those, or the one named); admins and analysts
  /// see everything; students are refused.
  public func listFlaggedTurns(
    by caller: Principal,
    filter requested: FlagFilter
  ) async throws -> FlaggedTurnsPage {
    try caller.authorize(.listFlaggedTurns)
    var filter = requested
    if let since = filter.since, let until = filter.until, until <= since {
      throw TutoringError.invalidArgument("until must be after since")
    }
    if let severity = filter.minimumSeverity, !FlagFilter.severities.contains(severity) {
      throw TutoringError.invalidArgument(
        "min_severity '\(severity)' is not one of " + FlagFilter.severities.joined(separator: ", ")
      )
    }
    if let student = filter.studentId { try checkIdentifier(student, field: "student_id") }
    if let named = filter.curriculumIds, named.count == 1 {
      try checkIdentifier(named[0], field: "curriculum_id")
    }
    if caller.role == .teacher, !caller.curricula.isEmpty {
      if let named = filter.curriculumIds {
        for id in named where !caller.covers(curriculumId: id) {
          throw TutoringError.permissionDenied(
            "this teacher token does not cover curriculum '\(id)'; it covers "
              + caller.curricula.sorted().joined(separator: ", ")
          )
        }
      } else {
        filter.curriculumIds = caller.curricula.sorted()
      }
    }
    guard filter.pageSize >= 0 else {
      throw TutoringError.invalidArgument("page_size must not be negative, got \(filter.pageSize)")
    }
    filter.pageSize = min(filter.pageSize == 0 ? limits.defaultPageSize : filter.pageSize, limits.maxPageSize)
    do {
      return try await store.flaggedTurns(filter)
    } catch TutorStoreError.invalidPageToken {
      throw TutoringError.invalidArgument("page_token is not one this server issued")
    }
  }

  /// Retention: removes the text of turns (questions and answers) and of attempts' responses
  /// older than `age`, keeping the rows, so that counts, mastery, statistics and flags'
  /// categories stay right.
  @discardableResult
  public func purgeText(olderThan age: Duration) async throws -> (turns: Int, attempts: Int) {
    let cutoff = Date().addingTimeInterval(-Double(age.components.seconds))
    let purged = try await store.purgeText(before: cutoff)
    if purged.turns + purged.attempts > 0 {
      logger.notice(
        "retention: removed old text",
        metadata: [
          "turns": "\(purged.turns)", "attempts": "\(purged.attempts)",
          "before": "\(cutoff.ISO8601Format())",
        ]
      )
    }
    return purged
  }
}
