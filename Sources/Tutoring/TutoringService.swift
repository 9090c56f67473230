import Curriculum
import Engine
import Foundation
import Logging
import Synchronization
import TutorStore

/// The tutoring core: sessions, questions answered by the model from retrieved lesson notes,
/// graded exercises and mastery. Transport-free; the gRPC server maps it to `tutor.v1`.
///
/// Every acknowledged write is durable before the call returns: a question is stored before
/// generation starts, the answer when it ends (completed, cancelled or failed).
public final class TutoringService: Sendable {
  /// Server-wide limits and defaults.
  public struct Limits: Sendable {
    /// Longest question accepted, in characters; longer ones are refused (INVALID_ARGUMENT).
    public var maxQuestionCharacters = 2000
    /// Longest question accepted, in the model's tokens (INVALID_ARGUMENT beyond).
    public var maxQuestionTokens = 512
    /// Answer length when neither the request nor the curriculum sets one.
    public var defaultMaxNewTokens = 200
    /// The most tokens one answer may ask for.
    public var maxNewTokens = 1024
    /// Snippets retrieved per question (the prompt keeps those that fit).
    public var snippetsPerPrompt = 4
    /// Past turns offered to the prompt builder (newest kept first).
    public var historyTurns = 8
    /// Grounded decoding when neither the request nor the curriculum sets it.
    public var grounding = AnswerGrounding.standard
    /// The prompt template of curricula without `prompt_template` (nil: ``PromptBuilder/defaultTemplate``).
    public var promptTemplate: String?
    /// Notes in the prompt worst first (the best beside the question); see ``PromptBuilder/notesBestLast``.
    public var notesBestLast = false
    /// Whether "my name is …" in a question is redacted like emails, phone numbers and street
    /// addresses (which always are; see ``PersonalDataRedactor``).
    public var redactNames = false
    /// Screening of questions and answers (``MessageScreen``): the defaults, or a deployment's
    /// rules (`--safety-config`).
    public var safety = MessageScreen.standard
    /// Snippets a search may ask for, and the number when it does not say.
    public var maxSearchResults = 50
    public var defaultSearchResults = 5
    public var maxIdentifierLength = 128
    public var defaultPageSize = 50
    public var maxPageSize = 500

    public init() {}
  }

  // The core's parts stay inside it: callers go through its operations, which authorise them.
  let catalog: CurriculumCatalog
  let model: TutorModel
  let store: LearningRecordStore
  public let limits: Limits
  let logger: Logger
  /// Sessions with a question being answered: one at a time per session.
  let answering = Mutex(Set<String>())

  public init(
    catalog: CurriculumCatalog,
    model: TutorModel,
    store: LearningRecordStore,
    limits: Limits = Limits(),
    logger: Logger = Logger(label: "tutor.tutoring")
  ) {
    self.catalog = catalog
    self.model = model
    self.store = store
    self.limits = limits
    self.logger = logger
  }

  // MARK: Sessions

  /// Starts a session for `studentId` (a student token: for themself; the field may be left
  /// empty).
  public func startSession(
    by caller: Principal,
    studentId: String,
    curriculumId: String,
    lessonId: String?
  ) async throws -> StoredSession {
    try caller.authorize(.startSession)
    var studentId = studentId
    if caller.role == .student {
      guard studentId.isEmpty || studentId == caller.studentId else {
        throw TutoringError.permissionDenied("a student token starts sessions only for its own student")
      }
      studentId = caller.studentId ?? ""
    }
    try checkIdentifier(studentId, field: "student_id")
    try checkIdentifier(curriculumId, field: "curriculum_id")
    // The curriculum and lesson are arguments here, not the resource asked for: an unknown one is
    // a bad argument (INVALID_ARGUMENT), as the API contract says.
    guard let curriculum = catalog.snapshot.curriculum(curriculumId) else {
      let known = catalog.snapshot.curricula.map(\.id)
      throw TutoringError.invalidArgument(
        "no curriculum '\(curriculumId)'"
          + (known.isEmpty ? "" : "; this server has " + known.joined(separator: ", "))
      )
    }
    let lesson: Lesson
    let chosen = !(lessonId ?? "").isEmpty
    if let lessonId, !lessonId.isEmpty {
      guard let found = curriculum.lesson(lessonId) else {
        throw TutoringError.invalidArgument(
          "curriculum '\(curriculumId)' has no lesson '\(lessonId)'; its lessons are "
            + curriculum.lessons.map(\.id).joined(separator: ", ")
        )
      }
      lesson = found
    } else {
      guard let first = curriculum.lessons.first else {
        throw TutoringError.failedPrecondition("curriculum '\(curriculumId)' has no lessons")
      }
      lesson = first
    }
    return try await store.startSession(
      studentId: studentId,
      curriculumId: curriculum.id,
      lessonId: lesson.id,
      lessonChosen: chosen
    )
  }

  /// A session and its turns, oldest first.
  public func session(
    by caller: Principal,
    id: String
  ) async throws -> (session: StoredSession, turns: [StoredTurn]) {
    try caller.authorize(.getSession)
    let session = try await authorizedSession(id, caller: caller, write: false)
    return (session, try await store.turns(sessionId: id))
  }

  /// The notes a stored turn was given, as its curriculum has them now (notes since removed are
  /// left out).
  public func citations(of turn: StoredTurn, in session: StoredSession) -> [Citation] {
    catalog.snapshot.curriculum(session.curriculumId)?.citations(turn.snippetIds) ?? []
  }

  /// One page of sessions, newest first, with each one's turn count. A student lists only their
  /// own (an empty student filter means them); a teacher whose token covers some curricula must
  /// name one of them.
  public func listSessions(
    by caller: Principal,
    studentId: String?,
    curriculumId: String?,
    pageSize: Int,
    pageToken: String?
  ) async throws -> (sessions: [StoredSession], turnCounts: [String: Int], nextPageToken: String?) {
    try caller.authorize(.listSessions)
    let filter = try sessionFilter(studentId: studentId ?? "", curriculumId: curriculumId ?? "", for: caller)
    let studentId = filter.studentId.isEmpty ? nil : filter.studentId
    let curriculumId = filter.curriculumId.isEmpty ? nil : filter.curriculumId
    guard studentId != nil || curriculumId != nil else {
      throw TutoringError.invalidArgument("set student_id or curriculum_id (or both)")
    }
    guard pageSize >= 0 else {
      throw TutoringError.invalidArgument("page_size must not be negative, got \(pageSize)")
    }
    let size = min(pageSize == 0 ? limits.defaultPageSize : pageSize, limits.maxPageSize)
    do {
      let page = try await store.listSessions(
        studentId: studentId,
        curriculumId: curriculumId,
        pageSize: size,
        pageToken: pageToken.flatMap { $0.isEmpty ? nil : $0 }
      )
      let counts = try await store.turnCounts(sessionIds: page.sessions.map(\.id))
      return (page.sessions, counts, page.nextPageToken)
    } catch TutorStoreError.invalidPageToken {
      throw TutoringError.invalidArgument("page_token is not one this server issued")
    }
  }

  /// Ends a session; returns it with its turn count.
  public func endSession(
    by caller: Principal,
    id: String
  ) async throws -> (session: StoredSession, turnCount: Int) {
    try caller.authorize(.endSession)
    _ = try await authorizedSession(id, caller: caller, write: true)
    guard let session = try await store.endSession(id: id) else {
      throw TutoringError.notFound("no session '\(id)'")
    }
    return (session, try await store.turnCounts(sessionIds: [id])[id] ?? 0)
  }

  // MARK: Helpers

  func checkIdentifier(_ value: String, field: String) throws {
    guard !value.isEmpty else { throw TutoringError.invalidArgument("\(field) is empty") }
    guard value.count <= limits.maxIdentifierLength else {
      throw TutoringError.invalidArgument(
        "\(field) is \(value.count) characters long; at most \(limits.maxIdentifierLength) are accepted"
      )
    }
    guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
      throw TutoringError.invalidArgument("\(field) contains control characters")
    }
  }

  /// Text a student typed with its personal data replaced (``PersonalDataRedactor``): what is
  /// stored, prompted and exported.
  func redacted(_ text: String) -> String {
    PersonalDataRedactor(redactNames: limits.redactNames).redact(text).text
  }

  /// Text a student typed, trimmed: not empty, at most `maxQuestionCharacters`.
  func studentText(_ raw: String, field: String) throws -> String {
    let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !text.isEmpty else { throw TutoringError.invalidArgument("\(field) is empty") }
    guard text.count <= limits.maxQuestionCharacters else {
      throw TutoringError.invalidArgument(
        "\(field) is \(text.count) characters long; at most \(limits.maxQuestionCharacters) are accepted"
      )
    }
    return text
  }

  /// The curriculum, as served now, of a session that can still take questions and answers (the
  /// session as ``authorizedSession(_:caller:write:)`` fetched it).
  func servedCurriculum(of session: StoredSession) throws -> Course {
    guard session.state == .active else {
      throw TutoringError.failedPrecondition("session '\(session.id)' has ended; start a new one")
    }
    guard let curriculum = catalog.snapshot.curriculum(session.curriculumId) else {
      throw TutoringError.failedPrecondition(
        "the session's curriculum '\(session.curriculumId)' is no longer served"
      )
    }
    return curriculum
  }
}

extension Duration {
  /// Whole milliseconds.
  public var milliseconds: Int64 {
    let (s, atto) = components
    return s * 1000 + atto / 1_000_000_000_000_000
  }
}
