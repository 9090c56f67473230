import Foundation
import TutorStore

/// ``LearningStatistics`` for people (aligned tables for a terminal) and for programs (JSON).
///
/// ```swift
/// let statistics = try await store.statistics(ExportFilter(curriculumId: "fractions-ratios"))
/// print(StatisticsReport.table(statistics))
/// ```
public enum StatisticsReport {
  /// The summary, the per-lesson table and the hardest exercises, as aligned plain text.
  public static func table(_ s: LearningStatistics) -> String {
    var out = ""
    out += "Summary\n"
    out += render(
      [
        ["sessions", count(s.sessions)],
        ["active students", count(s.activeStudents)],
        ["questions asked", count(s.questions)],
        ["explanations completed", count(s.explanations)],
        ["exercise attempts", count(s.attempts)],
        ["accuracy", percent(s.accuracy)],
        ["hints revealed", count(s.hintsRevealed)],
        ["latency per answer", distribution(s.latencyMs, unit: " ms")],
        ["tokens per answer", distribution(s.tokensPerAnswer, unit: "")],
      ],
      rightAligned: [],
      header: false
    )
    out += "\nPer lesson\n"
    if s.lessons.isEmpty {
      out += "  (none)\n"
    } else {
      out += render(
        [["curriculum", "lesson", "sessions", "students", "questions", "attempts", "accuracy"]]
          + s.lessons.map {
            [
              $0.curriculumId, $0.lessonId, count($0.sessions), count($0.students), count($0.questions),
              count($0.attempts), percent($0.accuracy),
            ]
          },
        rightAligned: [2, 3, 4, 5, 6]
      )
    }
    out += "\nHardest exercises\n"
    if s.hardestExercises.isEmpty {
      out += "  (none)\n"
    } else {
      out += render(
        [["curriculum", "lesson", "exercise", "students", "attempts", "accuracy", "first try", "hints"]]
          + s.hardestExercises.map {
            [
              $0.curriculumId, $0.lessonId, $0.exerciseId, count($0.students), count($0.attempts),
              percent($0.accuracy), percent($0.firstTryAccuracy), count($0.hintsRevealed),
            ]
          },
        rightAligned: [3, 4, 5, 6, 7]
      )
    }
    return out
  }

  /// The statistics as one pretty-printed JSON object: snake_case keys, the counts and the
  /// ratios computed from them; a ratio or distribution with nothing to measure is absent.
  public static func json(_ s: LearningStatistics) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(Report(s)), as: UTF8.self) + "\n"
  }

  private struct Report: Encodable {
    var sessions, activeStudents, questions, explanations, attempts, correctAttempts, hintsRevealed: Int
    var accuracy: Double?
    var latencyMs, tokensPerAnswer: LearningStatistics.Distribution?
    var lessons: [Lesson]
    var hardestExercises: [Exercise]

    init(_ s: LearningStatistics) {
      (sessions, activeStudents, questions, explanations) = (
        s.sessions, s.activeStudents, s.questions, s.explanations
      )
      (attempts, correctAttempts, hintsRevealed, accuracy) = (
        s.attempts, s.correctAttempts, s.hintsRevealed, s.accuracy
      )
      (latencyMs, tokensPerAnswer) = (s.latencyMs, s.tokensPerAnswer)
      lessons = s.lessons.map(Lesson.init)
      hardestExercises = s.hardestExercises.map(Exercise.init)
    }

    struct Lesson: Encodable {
      var curriculumId, lessonId: String
      var sessions, students, questions, attempts, correctAttempts: Int
      var accuracy: Double?

      init(_ l: LearningStatistics.LessonStatistics) {
        (curriculumId, lessonId, sessions, students) = (l.curriculumId, l.lessonId, l.sessions, l.students)
        (questions, attempts, correctAttempts, accuracy) = (
          l.questions, l.attempts, l.correctAttempts, l.accuracy
        )
      }
    }

    struct Exercise: Encodable {
      var curriculumId, lessonId, exerciseId: String
      var students, sessions, attempts, correctAttempts, firstTryCorrect, hintsRevealed: Int
      var accuracy, firstTryAccuracy: Double?

      init(_ e: LearningStatistics.ExerciseStatistics) {
        (curriculumId, lessonId, exerciseId) = (e.curriculumId, e.lessonId, e.exerciseId)
        (students, sessions, attempts, correctAttempts) = (
          e.students, e.sessions, e.attempts, e.correctAttempts
        )
        (firstTryCorrect, hintsRevealed, accuracy, firstTryAccuracy) =
          (e.firstTryCorrect, e.hintsRevealed, e.accuracy, e.firstTryAccuracy)
      }
    }
  }

  // MARK: - Text

  static func count(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, digit) in digits.enumerated() {
      if i > 0, (digits.count - i) % 3 == 0 { out += "," }
      out.append(digit)
    }
    return value < 0 ? "-" + out : out
  }

  static func percent(_ ratio: Double?) -> String {
    guard let ratio else { return "–" }
    return String(format: "%.1f%%", ratio * 100)
  }

  static func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? count(Int(value)) : String(format: "%.1f", value)
  }

  static func distribution(_ d: LearningStatistics.Distribution?, unit: String) -> String {
    guard let d else { return "–" }
    return "median \(number(d.median))\(unit), p90 \(number(d.p90))\(unit), mean \(number(d.mean))\(unit)"
      + " (\(count(d.count)) answers)"
  }

  /// Columns padded to their widest cell, two spaces apart, indented by two; the first row
  /// underlined when it is a header.
  static func render(_ rows: [[String]], rightAligned: Set<Int>, header: Bool = true) -> String {
    let columns = rows.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
      for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    var out = ""
    for (r, row) in rows.enumerated() {
      var line = " "
      for (i, cell) in row.enumerated() {
        let pad = String(repeating: " ", count: widths[i] - cell.count)
        line += " " + (rightAligned.contains(i) ? pad + cell : cell + (i == row.count - 1 ? "" : pad)) + " "
      }
      while line.hasSuffix(" ") { line.removeLast() }
      out += line + "\n"
      if header, r == 0 {
        out += "  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
      }
    }
    return out
  }
}
