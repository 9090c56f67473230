import ArgumentParser
import Foundation
import TutorStore

/// `tutor flags list`: the turns screening flagged, from the database directly.
struct FlagsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "flags",
    abstract: "Turns that screening flagged: what needs an adult.",
    subcommands: [List.self]
  )

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List flagged turns, newest first, with the redacted text.",
      discussion:
        "The ListFlaggedTurns RPC (teacher, analyst and admin tokens) does the same on a running server."
    )
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var filter: ExportFilterOptions
    @Option(help: "Only turns with a flag at least this severe: low, medium or high.")
    var minSeverity: String?
    @Option(help: "At most this many turns.") var limit = 100
    @Flag(help: "One JSON object per line.") var json = false

    func validate() throws {
      if let minSeverity, !FlagFilter.severities.contains(minSeverity) {
        throw ValidationError("--min-severity must be low, medium or high, got '\(minSeverity)'")
      }
      guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
      let store = try await database.open()
      defer { try? store.close() }
      let selection = try filter.filter()
      var request = FlagFilter(
        since: selection.since,
        until: selection.until,
        curriculumIds: selection.curriculumId.map { [$0] },
        studentId: selection.studentId,
        minimumSeverity: minSeverity,
        pageSize: min(limit, 500)
      )
      var listed = 0
      let time = ISO8601DateFormatter()
      while listed < limit {
        let page = try await store.flaggedTurns(request)
        for flagged in page.turns.prefix(limit - listed) {
          listed += 1
          let turn = flagged.turn
          let flags = turn.flags.map { "\($0.source.rawValue):\($0.category):\($0.severity)" }
          if json {
            var object: [String: Any] = [
              "turn_id": turn.id, "session_id": turn.sessionId, "student_id": flagged.studentId,
              "curriculum_id": flagged.curriculumId, "lesson_id": flagged.lessonId, "index": turn.index,
              "created_at": time.string(from: turn.createdAt), "question": turn.question,
              "answer": turn.answer,
              "flags": turn.flags.map {
                ["source": $0.source.rawValue, "category": $0.category, "severity": $0.severity]
              },
            ]
            if let exercise = flagged.exerciseId { object["exercise_id"] = exercise }
            try Console.writeJSON(object)
          } else {
            Console.write(
              "\(time.string(from: turn.createdAt))  \(flags.joined(separator: ","))  student \(flagged.studentId)  "
                + "session \(turn.sessionId) "
                + (flagged.exerciseId.map { "answer to exercise \($0)" } ?? "turn \(turn.index)")
                + "\n    \(turn.question.isEmpty ? "(text removed)" : turn.question)\n"
            )
          }
        }
        guard let next = page.nextPageToken else { break }
        request.pageToken = next
      }
      if !json, listed == 0 { Console.write("no flagged turns\n") }
    }
  }
}

/// `tutor purge`: the retention policy, run once.
struct Purge: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Remove the text of turns and attempts older than N days, keeping counts, mastery and flags.",
    discussion: """
      Questions, answers and attempts' responses become empty; every row stays, so statistics, \
      mastery and flags' categories are unchanged. `tutor serve --retention-days N` does the same \
      every hour.
      """
  )
  @OptionGroup var database: DatabaseOptions
  @Option(help: "Age in days of the text to remove.") var olderThan: Int
  @Flag(help: "Print what was removed as JSON.") var json = false

  func validate() throws {
    guard olderThan >= 0 else { throw ValidationError("--older-than must not be negative") }
  }

  func run() async throws {
    let store = try await database.open()
    defer { try? store.close() }
    let cutoff = Date().addingTimeInterval(-Double(olderThan) * 86_400)
    let purged = try await store.purgeText(before: cutoff)
    if json {
      try Console.writeJSON(
        [
          "turns": purged.turns, "attempts": purged.attempts,
          "before": ISO8601DateFormatter().string(from: cutoff),
        ] as [String: Any]
      )
    } else {
      Console.write(
        "removed the text of \(purged.turns) turns and \(purged.attempts) attempts from before \(ISO8601DateFormatter().string(from: cutoff))\n"
      )
    }
  }
}
