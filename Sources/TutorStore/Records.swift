import Foundation
import GRDB

/// A tutoring session as stored.
public struct StoredSession: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "session"

  public enum State: String, Codable, Sendable { case active, ended }

  public var id: String
  public var studentId: String
  public var curriculumId: String
  public var lessonId: String
  /// Whether the student picked the lesson (rather than getting the curriculum's first): only a
  /// chosen lesson's notes are favoured when answering.
  public var lessonChosen: Bool = true
  public var state: State
  /// Milliseconds since 1970 (UTC); exact, so records compare equal after a round trip.
  public var createdAtMs: Int64
  public var updatedAtMs: Int64
  public var endedAtMs: Int64?

  public init(
    id: String,
    studentId: String,
    curriculumId: String,
    lessonId: String,
    lessonChosen: Bool = true,
    state: State,
    createdAtMs: Int64,
    updatedAtMs: Int64,
    endedAtMs: Int64? = nil
  ) {
    self.id = id
    self.studentId = studentId
    self.curriculumId = curriculumId
    self.lessonId = lessonId
    self.lessonChosen = lessonChosen
    self.state = state
    self.createdAtMs = createdAtMs
    self.updatedAtMs = updatedAtMs
    self.endedAtMs = endedAtMs
  }

  enum CodingKeys: String, CodingKey {
    case id, state
    case studentId = "student_id"
    case curriculumId = "curriculum_id"
    case lessonId = "lesson_id"
    case lessonChosen = "lesson_chosen"
    case createdAtMs = "created_at"
    case updatedAtMs = "updated_at"
    case endedAtMs = "ended_at"
  }

  /// The table's columns, for queries (named by the coding keys, so a rename moves both).
  public enum Columns {
    public static let id = Column(CodingKeys.id)
    public static let studentId = Column(CodingKeys.studentId)
    public static let curriculumId = Column(CodingKeys.curriculumId)
    public static let lessonId = Column(CodingKeys.lessonId)
    public static let state = Column(CodingKeys.state)
    public static let createdAtMs = Column(CodingKeys.createdAtMs)
    public static let updatedAtMs = Column(CodingKeys.updatedAtMs)
  }
}

/// One question and its answer. The row is written with the question before generation starts
/// (status `answering`) and completed when generation ends.
public struct StoredTurn: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "turn"

  public enum Status: String, Codable, Sendable {
    case answering, completed, cancelled, interrupted, failed
  }

  public var id: String
  public var sessionId: String
  /// 0-based position in the session.
  public var index: Int
  public var question: String
  public var answer: String
  /// Snippet ids the answer was grounded in, best first (stored as a JSON array).
  public var snippetIds: [String]
  public var promptTokens: Int
  public var completionTokens: Int
  public var latencyMilliseconds: Int?
  public var status: Status
  /// `end_of_text`, `stop_sequence`, `length` or `cancelled`, once finished.
  public var finishReason: String?
  /// Milliseconds since 1970 (UTC); exact, so records compare equal after a round trip.
  public var createdAtMs: Int64
  public var completedAtMs: Int64?
  /// What screening found in the question and the answer (stored as a JSON array); empty for
  /// most turns. Kept when retention removes the text.
  public var flags: [TurnFlag]

  public init(
    id: String,
    sessionId: String,
    index: Int,
    question: String,
    answer: String,
    snippetIds: [String],
    promptTokens: Int,
    completionTokens: Int,
    latencyMilliseconds: Int?,
    status: Status,
    finishReason: String?,
    createdAtMs: Int64,
    completedAtMs: Int64?,
    flags: [TurnFlag] = []
  ) {
    self.id = id
    self.sessionId = sessionId
    self.index = index
    self.question = question
    self.answer = answer
    self.snippetIds = snippetIds
    self.promptTokens = promptTokens
    self.completionTokens = completionTokens
    self.latencyMilliseconds = latencyMilliseconds
    self.status = status
    self.finishReason = finishReason
    self.createdAtMs = createdAtMs
    self.completedAtMs = completedAtMs
    self.flags = flags
  }

  enum CodingKeys: String, CodingKey {
    case id, question, answer, status, flags
    case sessionId = "session_id"
    case index = "idx"
    case snippetIds = "snippet_ids"
    case promptTokens = "prompt_tokens"
    case completionTokens = "completion_tokens"
    case latencyMilliseconds = "latency_ms"
    case finishReason = "finish_reason"
    case createdAtMs = "created_at"
    case completedAtMs = "completed_at"
  }

  /// The table's columns, for queries (named by the coding keys, so a rename moves both).
  public enum Columns {
    public static let id = Column(CodingKeys.id)
    public static let sessionId = Column(CodingKeys.sessionId)
    public static let index = Column(CodingKeys.index)
    public static let status = Column(CodingKeys.status)
    public static let createdAtMs = Column(CodingKeys.createdAtMs)
  }
}

/// Something screening found in a turn that an adult should see: a category (`self_harm`,
/// `violence`, `sexual`, `bullying`, `personal_data`, or a deployment's own) and a severity
/// (`low`, `medium`, `high`), in the question or in the answer.
public struct TurnFlag: Codable, Sendable, Hashable {
  public enum Source: String, Codable, Sendable {
    /// What the student asked, what the model answered, what the student answered an exercise.
    case question, answer
    case exerciseAnswer = "exercise_answer"
  }

  public var source: Source
  public var category: String
  public var severity: String

  public init(source: Source, category: String, severity: String) {
    self.source = source
    self.category = category
    self.severity = severity
  }

  /// `[{"source":…,"category":…,"severity":…}]`, as the `flags` column holds them.
  static func json(_ flags: [TurnFlag]) -> String {
    guard !flags.isEmpty, let data = try? JSONEncoder.sorted.encode(flags) else { return "[]" }
    return String(decoding: data, as: UTF8.self)
  }

  static func decode(_ json: String) -> [TurnFlag] {
    if json == "[]" || json.isEmpty { return [] }
    return (try? JSONDecoder().decode([TurnFlag].self, from: Data(json.utf8))) ?? []
  }
}

extension JSONEncoder {
  /// Keys sorted: equal values give equal bytes.
  static var sorted: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }
}

/// A graded answer to an exercise.
public struct StoredAttempt: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "attempt"

  public var id: String
  public var sessionId: String
  public var studentId: String
  public var curriculumId: String
  public var lessonId: String
  public var exerciseId: String
  public var objectiveId: String?
  public var answer: String
  public var correct: Bool
  /// Hints of the exercise revealed to the student before this attempt was graded.
  public var hintsRevealed: Int
  /// The hint (1-based) revealed in the response to this attempt, if one was.
  public var hintRevealed: Int?
  /// Milliseconds since 1970 (UTC); exact, so records compare equal after a round trip.
  public var createdAtMs: Int64
  /// What screening found in the response (source `exercise_answer`); usually empty.
  public var flags: [TurnFlag]

  public init(
    id: String,
    sessionId: String,
    studentId: String,
    curriculumId: String,
    lessonId: String,
    exerciseId: String,
    objectiveId: String?,
    answer: String,
    correct: Bool,
    hintsRevealed: Int,
    hintRevealed: Int? = nil,
    createdAtMs: Int64,
    flags: [TurnFlag] = []
  ) {
    self.id = id
    self.sessionId = sessionId
    self.studentId = studentId
    self.curriculumId = curriculumId
    self.lessonId = lessonId
    self.exerciseId = exerciseId
    self.objectiveId = objectiveId
    self.answer = answer
    self.correct = correct
    self.hintsRevealed = hintsRevealed
    self.hintRevealed = hintRevealed
    self.createdAtMs = createdAtMs
    self.flags = flags
  }

  enum CodingKeys: String, CodingKey {
    case id, answer, correct, flags
    case sessionId = "session_id"
    case studentId = "student_id"
    case curriculumId = "curriculum_id"
    case lessonId = "lesson_id"
    case exerciseId = "exercise_id"
    case objectiveId = "objective_id"
    case hintsRevealed = "hints_revealed"
    case hintRevealed = "hint_revealed"
    case createdAtMs = "created_at"
  }

  /// The table's columns, for queries (named by the coding keys, so a rename moves both).
  public enum Columns {
    public static let id = Column(CodingKeys.id)
    public static let sessionId = Column(CodingKeys.sessionId)
    public static let studentId = Column(CodingKeys.studentId)
    public static let curriculumId = Column(CodingKeys.curriculumId)
    public static let exerciseId = Column(CodingKeys.exerciseId)
    public static let createdAtMs = Column(CodingKeys.createdAtMs)
  }
}

/// An access token as stored: who it lets in, never the token itself (only a SHA-256 of its
/// secret part).
public struct StoredToken: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "access_token"

  public var id: String
  public var secretSHA256: Data
  /// `student`, `teacher`, `author`, `analyst` or `admin`.
  public var role: String
  /// The one student a `student` token acts for.
  public var studentId: String?
  /// The curricula a `teacher` or `author` token covers; empty: all.
  public var curricula: [String]
  /// A note for people (who or what the token is for).
  public var label: String
  public var createdAtMs: Int64
  public var revokedAtMs: Int64?

  public init(
    id: String,
    secretSHA256: Data,
    role: String,
    studentId: String?,
    curricula: [String],
    label: String,
    createdAtMs: Int64,
    revokedAtMs: Int64? = nil
  ) {
    self.id = id
    self.secretSHA256 = secretSHA256
    self.role = role
    self.studentId = studentId
    self.curricula = curricula
    self.label = label
    self.createdAtMs = createdAtMs
    self.revokedAtMs = revokedAtMs
  }

  enum CodingKeys: String, CodingKey {
    case id, role, curricula, label
    case secretSHA256 = "secret_sha256"
    case studentId = "student_id"
    case createdAtMs = "created_at"
    case revokedAtMs = "revoked_at"
  }
}

/// A student's current mastery estimate of one objective.
public struct StoredMastery: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
  public static let databaseTableName = "mastery"

  public var studentId: String
  public var curriculumId: String
  public var objectiveId: String
  public var probability: Double
  public var updatedAtMs: Int64

  enum CodingKeys: String, CodingKey {
    case probability
    case studentId = "student_id"
    case curriculumId = "curriculum_id"
    case objectiveId = "objective_id"
    case updatedAtMs = "updated_at"
  }

  /// The table's columns, for queries (named by the coding keys, so a rename moves both).
  public enum Columns {
    public static let studentId = Column(CodingKeys.studentId)
    public static let curriculumId = Column(CodingKeys.curriculumId)
    public static let objectiveId = Column(CodingKeys.objectiveId)
  }
}

/// The record's tables, parents before children (the order a copy writes them in).
enum RecordTables {
  static let all = ["student", "session", "turn", "attempt", "mastery", "mastery_history", "access_token"]
}

extension Date {
  /// Milliseconds since 1970, as the store keeps times.
  public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

  public init(millisecondsSince1970 ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

extension StoredSession {
  /// A new active session (a new id), started `now`: what either engine stores.
  static func started(
    studentId: String,
    curriculumId: String,
    lessonId: String,
    lessonChosen: Bool,
    at now: Int64
  ) -> StoredSession {
    StoredSession(
      id: UUID().uuidString.lowercased(),
      studentId: studentId,
      curriculumId: curriculumId,
      lessonId: lessonId,
      lessonChosen: lessonChosen,
      state: .active,
      createdAtMs: now,
      updatedAtMs: now,
      endedAtMs: nil
    )
  }

  public var createdAt: Date { Date(millisecondsSince1970: createdAtMs) }
  public var updatedAt: Date { Date(millisecondsSince1970: updatedAtMs) }
  public var endedAt: Date? { endedAtMs.map(Date.init(millisecondsSince1970:)) }
}

extension StoredTurn {
  /// A question stored before its answer is generated (a new id, status `answering`), at
  /// `index` in its session: what either engine stores.
  static func asked(
    _ question: String,
    sessionId: String,
    index: Int,
    snippetIds: [String],
    promptTokens: Int,
    flags: [TurnFlag] = [],
    at now: Int64
  ) -> StoredTurn {
    StoredTurn(
      id: UUID().uuidString.lowercased(),
      sessionId: sessionId,
      index: index,
      question: question,
      answer: "",
      snippetIds: snippetIds,
      promptTokens: promptTokens,
      completionTokens: 0,
      latencyMilliseconds: nil,
      status: .answering,
      finishReason: nil,
      createdAtMs: now,
      completedAtMs: nil,
      flags: flags
    )
  }

  public var createdAt: Date { Date(millisecondsSince1970: createdAtMs) }
  public var completedAt: Date? { completedAtMs.map(Date.init(millisecondsSince1970:)) }
}
