import Crypto
import Curriculum
import Foundation

/// The formats a learning-record export is written in.
public enum ExportFormat: String, CaseIterable, Sendable {
  /// One row per turn and per attempt, RFC 4180, with a header row.
  case csv
  /// One JSON object per line, the same fields as the CSV.
  case jsonl
  /// xAPI 1.0.3 statements: a JSON array, as an LRS takes on `POST /statements`.
  case xapi
  /// PSLC DataShop tab-delimited transactions: one row per attempt and per hint.
  case datashop

  public var contentType: String {
    switch self {
    case .csv: "text/csv; charset=utf-8"
    case .jsonl: "application/jsonl; charset=utf-8"
    case .xapi: "application/json; charset=utf-8"
    case .datashop: "text/tab-separated-values; charset=utf-8"
    }
  }

  public var fileExtension: String {
    switch self {
    case .csv: "csv"
    case .jsonl: "jsonl"
    case .xapi: "json"
    case .datashop: "txt"
    }
  }
}

/// Replaces student ids with stable pseudonyms, HMAC-SHA256 of the id under a secret: the same
/// student gets the same pseudonym in every export made with the secret, and nobody without it can
/// tell who a pseudonym stands for (nor test a guess).
public struct Pseudonymizer: Sendable {
  private let key: SymmetricKey

  public init(secret: String) {
    key = SymmetricKey(data: Data(secret.utf8))
  }

  /// `p-` and the first 16 bytes of the HMAC in hex.
  public func pseudonym(for studentId: String) -> String {
    let mac = HMAC<SHA256>.authenticationCode(for: Data(studentId.utf8), using: key)
    return "p-" + mac.prefix(16).map { String(format: "%02x", $0) }.joined()
  }
}

/// What an export leaves out or changes.
public struct ExportOptions: Sendable {
  /// Question, answer and response text; off for exports that must not carry what children wrote.
  public var includeText: Bool
  /// Student ids replaced by pseudonyms, when set.
  public var pseudonymizer: Pseudonymizer?
  /// The server's home page: xAPI actors are accounts on it and activity ids live under it.
  public var homePage: String
  /// How many hints each exercise offers (DataShop's Total Num Hints), from the curricula; an
  /// exercise missing here (a curriculum since changed or not loaded) leaves the column empty.
  public var hintCounts: [ExerciseKey: Int]

  public init(
    includeText: Bool = true,
    pseudonymizer: Pseudonymizer? = nil,
    homePage: String = "https://tutor.invalid",
    hintCounts: [ExerciseKey: Int] = [:]
  ) {
    self.includeText = includeText
    self.pseudonymizer = pseudonymizer
    self.hintCounts = hintCounts
    var home = homePage
    while home.hasSuffix("/") { home.removeLast() }
    self.homePage = home
  }
}

extension ExportOptions {
  /// The hints each exercise of `curricula` offers, for ``hintCounts``.
  public static func hintCounts(of curricula: [Course]) -> [ExerciseKey: Int] {
    var counts: [ExerciseKey: Int] = [:]
    for curriculum in curricula {
      for lesson in curriculum.lessons {
        for exercise in lesson.exercises {
          counts[ExerciseKey(curriculumId: curriculum.id, lessonId: lesson.id, exerciseId: exercise.id)] =
            exercise.hints.count
        }
      }
    }
    return counts
  }
}

/// An exercise, as the learning record names it.
public struct ExerciseKey: Hashable, Sendable {
  public var curriculumId: String
  public var lessonId: String
  public var exerciseId: String

  public init(curriculumId: String, lessonId: String, exerciseId: String) {
    self.curriculumId = curriculumId
    self.lessonId = lessonId
    self.exerciseId = exerciseId
  }
}
