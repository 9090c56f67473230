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
    /// Snippets a search may ask for, and the number when it does not say.
    public var maxSearchResults = 50
    public var defaultSearchResults = 5
    public var maxIdentifierLength = 128
    public var defaultPageSize = 50
    public var maxPageSize = 500

    public init() {}
  }

  public let catalog: CurriculumCatalog
  public let model: TutorModel
  public let store: TutorStore
  public let limits: Limits
  private let logger: Logger
  /// Sessions with a question being answered: one at a time per session.
  private let answering = Mutex(Set<String>())

  public init(
    catalog: CurriculumCatalog,
    model: TutorModel,
    store: TutorStore,
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

  public func startSession(
    studentId: String,
    curriculumId: String,
    lessonId: String?
  ) async throws -> StoredSession {
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
  public func session(id: String) async throws -> (session: StoredSession, turns: [StoredTurn]) {
    let session = try await existingSession(id)
    return (session, try await store.turns(sessionId: id))
  }

  /// The notes a stored turn was given, as its curriculum has them now (notes since removed are
  /// left out).
  public func citations(of turn: StoredTurn, in session: StoredSession) -> [Citation] {
    catalog.snapshot.curriculum(session.curriculumId)?.citations(turn.snippetIds) ?? []
  }

  /// One page of sessions, newest first, with each one's turn count.
  public func listSessions(
    studentId: String?,
    curriculumId: String?,
    pageSize: Int,
    pageToken: String?
  ) async throws -> (sessions: [StoredSession], turnCounts: [String: Int], nextPageToken: String?) {
    let studentId = studentId.flatMap { $0.isEmpty ? nil : $0 }
    let curriculumId = curriculumId.flatMap { $0.isEmpty ? nil : $0 }
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

  public func endSession(id: String) async throws -> StoredSession {
    try checkIdentifier(id, field: "session_id")
    guard let session = try await store.endSession(id: id) else {
      throw TutoringError.notFound("no session '\(id)'")
    }
    return session
  }

  // MARK: Questions

  /// Settings a request may change; nil takes the curriculum's default, then the server's.
  public struct GenerationOptions: Sendable, Equatable {
    public var maxNewTokens: Int?
    public var temperature: Float?
    public var topK: Int?
    public var topP: Float?
    public var repetitionPenalty: Float?
    public var seed: UInt64?
    /// Grounded decoding (``AnswerGrounding``); 0 / false turns a part off for this request.
    public var copyBias: Float?
    public var contrastStrength: Float?
    public var noRepeatNGramSize: Int?
    public var endAtSentence: Bool?
    public var maxSentences: Int?

    public init(
      maxNewTokens: Int? = nil,
      temperature: Float? = nil,
      topK: Int? = nil,
      topP: Float? = nil,
      repetitionPenalty: Float? = nil,
      seed: UInt64? = nil,
      copyBias: Float? = nil,
      contrastStrength: Float? = nil,
      noRepeatNGramSize: Int? = nil,
      endAtSentence: Bool? = nil,
      maxSentences: Int? = nil
    ) {
      self.maxNewTokens = maxNewTokens
      self.temperature = temperature
      self.topK = topK
      self.topP = topP
      self.repetitionPenalty = repetitionPenalty
      self.seed = seed
      self.copyBias = copyBias
      self.contrastStrength = contrastStrength
      self.noRepeatNGramSize = noRepeatNGramSize
      self.endAtSentence = endAtSentence
      self.maxSentences = maxSentences
    }

    /// The grounding these options ask for over `defaults` (a curriculum's, then the server's).
    func grounding(curriculum: GenerationDefaults, server: AnswerGrounding) -> AnswerGrounding {
      AnswerGrounding(
        copyBias: copyBias ?? curriculum.copyBias.map(Float.init) ?? server.copyBias,
        contrastStrength: contrastStrength ?? curriculum.contrastStrength.map(Float.init)
          ?? server.contrastStrength,
        noRepeatNGramSize: noRepeatNGramSize ?? curriculum.noRepeatNGramSize ?? server.noRepeatNGramSize,
        endAtSentence: endAtSentence ?? curriculum.endAtSentence ?? server.endAtSentence,
        maxSentences: maxSentences ?? curriculum.maxSentences ?? server.maxSentences
      )
    }
  }

  /// What ``ask(sessionId:question:options:onEvent:)`` reports, in order.
  public enum AskEvent: Sendable, Equatable {
    /// The question is stored; generation begins.
    case started(turnId: String, snippetIds: [String])
    /// New text of the answer (never half a character).
    case delta(String)
  }

  /// The end of an answer.
  public struct AskCompletion: Sendable, Equatable {
    public var turnId: String
    public var answer: String
    public var snippetIds: [String]
    /// The notes the answer was given, best first, for the student to read alongside it.
    public var citations: [Citation]
    public var promptTokens: Int
    public var completionTokens: Int
    public var finishReason: FinishReason
    /// From the question's arrival to the last token.
    public var latency: Duration
  }

  /// Answers a question in a session, streaming the answer through `onEvent`.
  ///
  /// Validation errors are thrown before anything is stored. Once the turn is stored, the call
  /// always records how it ended: completed, cancelled (the task was cancelled or `onEvent`
  /// threw; the partial answer is kept) or failed.
  public func ask(
    sessionId: String,
    question rawQuestion: String,
    options: GenerationOptions = GenerationOptions(),
    onEvent: (AskEvent) async throws -> Void
  ) async throws -> AskCompletion {
    let clock = ContinuousClock()
    let arrived = clock.now
    let question = try studentText(rawQuestion, field: "question")
    let questionTokens = model.countTokens(question)
    guard questionTokens <= limits.maxQuestionTokens else {
      throw TutoringError.invalidArgument(
        "question is \(questionTokens) tokens long; at most \(limits.maxQuestionTokens) are accepted"
      )
    }
    let (session, curriculum) = try await activeSession(sessionId)
    let lesson = curriculum.lesson(session.lessonId) ?? curriculum.lessons.first
    var parameters = try generationParameters(options, curriculum: curriculum)

    // One question at a time per session, so that each answer sees the one before.
    guard answering.withLock({ $0.insert(sessionId).inserted }) else {
      throw TutoringError.failedPrecondition(
        "session '\(sessionId)' is already answering a question; wait for it to finish"
      )
    }
    defer { _ = answering.withLock { $0.remove(sessionId) } }

    let history = try await store.turns(sessionId: sessionId)
      .filter { $0.status == .completed && !$0.answer.isEmpty }
      .suffix(limits.historyTurns)
      .map { (question: $0.question, answer: $0.answer.trimmingCharacters(in: .whitespacesAndNewlines)) }
    let hits = await catalog.search(
      question,
      curriculum: curriculum.id,
      // Only a lesson the student chose is favoured: a session started without one gets the
      // curriculum's first lesson, and favouring it pulled that lesson's notes above the ones
      // that answer questions about the rest of the course (measured with `tutor eval answers`).
      lesson: session.lessonChosen ? lesson?.id : nil,
      limit: limits.snippetsPerPrompt
    )
    // The prompt names the chosen lesson, or else the lesson of the best note.
    let promptLesson =
      session.lessonChosen ? lesson : hits.first.flatMap { curriculum.lesson($0.lessonId) } ?? lesson
    let prompt: PromptBuilder.Prompt
    do {
      prompt = try Self.prompt(
        question: question,
        curriculum: curriculum,
        lesson: promptLesson,
        history: Array(history),
        hits: hits,
        contextLength: model.contextLength,
        answerTokens: parameters.maxNewTokens,
        defaultTemplate: limits.promptTemplate,
        notesBestLast: limits.notesBestLast
      ) { [model] in model.countTokens($0) }
    } catch let error as PromptBuilder.Error {
      throw TutoringError.invalidArgument("\(error)")
    } catch let error as TemplateError {
      throw TutoringError.internalError("curriculum '\(curriculum.id)': \(error.underlying)")
    }
    parameters.stopSequences = PromptBuilder.stopSequences
    let tokenizer = model.tokenizer
    let promptTokens = tokenizer.encode(prompt.text, allowSpecialTokens: false)
    let included = prompt.snippetIds.compactMap { id in hits.first { $0.id == id } }
    let grounding = options.grounding(curriculum: curriculum.generation, server: limits.grounding)
    let notes = included.map { (hit: $0, sentences: NoteSentences.split($0.text)) }
    // Which sentence to follow: the note's rank, and how close the sentence is to the question.
    let similarities =
      grounding.copyBias > 0 && AnswerGrounding.similaritySharpness > 0
      ? await catalog.similarities(question, to: notes.flatMap(\.sentences)) : nil
    parameters.grounding = Self.grounding(
      grounding,
      notes: notes,
      similarities: similarities,
      contrastPromptTokens: tokenizer.encode(prompt.textWithoutNotes, allowSpecialTokens: false),
      encode: { tokenizer.encode($0, allowSpecialTokens: false) }
    )
    let citations = curriculum.citations(prompt.snippetIds)

    // Wait for a generation slot before storing anything: a request refused for load
    // (RESOURCE_EXHAUSTED) leaves no turn behind.
    return try await model.withGenerationSlot {
      let turn: StoredTurn
      do {
        turn = try await store.beginTurn(
          sessionId: sessionId,
          question: question,
          snippetIds: prompt.snippetIds,
          promptTokens: promptTokens.count
        )
      } catch TutorStoreError.sessionEnded {
        throw TutoringError.failedPrecondition("session '\(sessionId)' has ended; start a new one")
      }
      // From here the turn is stored, and how it ends is always recorded.
      var outcome: TutorModel.Outcome?
      var engineError: (any Error)?
      var clientGone = false
      do {
        try await onEvent(.started(turnId: turn.id, snippetIds: prompt.snippetIds))
      } catch {
        clientGone = true
      }
      if !clientGone {
        do {
          outcome = try await model.generate(promptTokens: promptTokens, parameters: parameters) { text, _ in
            try await onEvent(.delta(text))
          }
        } catch {
          engineError = error
        }
      }
      let latency = clock.now - arrived
      let cancelled = clientGone || outcome?.finishReason == .cancelled || Task.isCancelled
      let status: StoredTurn.Status = cancelled ? .cancelled : engineError != nil ? .failed : .completed
      let finish: FinishReason? = cancelled ? .cancelled : outcome?.finishReason
      let answer = outcome?.text ?? ""
      let completionTokens = outcome?.tokenIds.count ?? 0
      // Stored even when this task is cancelled: the write runs in a task of its own.
      let store = self.store
      _ = try await Task {
        try await store.finishTurn(
          id: turn.id,
          answer: answer,
          completionTokens: completionTokens,
          latencyMilliseconds: Int(latency.milliseconds),
          status: status,
          finishReason: finish?.rawValue
        )
      }.value
      if cancelled { throw CancellationError() }
      if let engineError {
        logger.error("generation failed", metadata: ["turn": "\(turn.id)", "error": "\(engineError)"])
        throw TutoringError.internalError("generation failed: \(engineError)")
      }
      return AskCompletion(
        turnId: turn.id,
        answer: answer,
        snippetIds: prompt.snippetIds,
        citations: citations,
        promptTokens: promptTokens.count,
        completionTokens: completionTokens,
        finishReason: finish ?? .length,
        latency: latency
      )
    }
  }

  /// Engine parameters from the request's options, the curriculum's defaults and the limits.
  func generationParameters(
    _ options: GenerationOptions,
    curriculum: Curriculum
  ) throws -> GenerationParameters {
    let maxNewTokens =
      options.maxNewTokens ?? curriculum.generation.maxNewTokens ?? limits.defaultMaxNewTokens
    guard maxNewTokens > 0 else {
      throw TutoringError.invalidArgument("max_new_tokens must be positive, got \(maxNewTokens)")
    }
    guard maxNewTokens <= limits.maxNewTokens else {
      throw TutoringError.invalidArgument(
        "max_new_tokens is \(maxNewTokens); this server allows at most \(limits.maxNewTokens)"
      )
    }
    let parameters = GenerationParameters(
      maxNewTokens: maxNewTokens,
      temperature: options.temperature ?? curriculum.generation.temperature.map(Float.init) ?? 0,
      topK: options.topK.flatMap { $0 == 0 ? nil : $0 },
      topP: options.topP,
      repetitionPenalty: options.repetitionPenalty ?? 1,
      seed: options.seed
    )
    let grounding = options.grounding(curriculum: curriculum.generation, server: limits.grounding)
    do {
      try parameters.validate()
      // The settings alone (ask adds the notes and the prompt without them).
      try Grounding(
        copyBias: grounding.copyBias,
        contrastPromptTokens: [0],
        contrastStrength: grounding.contrastStrength,
        noRepeatNGramSize: grounding.noRepeatNGramSize,
        maxSentences: grounding.maxSentences
      ).validate()
    } catch {
      throw TutoringError.invalidArgument("\(error)")
    }
    return parameters
  }

  // MARK: Exercises

  /// A graded answer.
  public struct AnswerResult: Sendable, Equatable {
    public var attemptId: String
    public var correct: Bool
    public var feedback: String
    public var hint: String?
    public var hintsRevealed: Int
    public var explanation: String?
    public var mastery: ObjectiveMastery?
  }

  /// A student's mastery of one objective.
  public struct ObjectiveMastery: Sendable, Equatable {
    public var curriculumId: String
    public var lessonId: String
    public var objectiveId: String
    public var probability: Double
    public var mastered: Bool
  }

  /// Grades an answer to one of the session's curriculum's exercises, reveals the next hint
  /// after a wrong one, and updates the objective's mastery (Bayesian Knowledge Tracing).
  public func submitAnswer(sessionId: String, exerciseId: String, answer: String) async throws -> AnswerResult
  {
    try checkIdentifier(exerciseId, field: "exercise_id")
    let response = try studentText(answer, field: "answer")
    let (session, curriculum) = try await activeSession(sessionId)
    guard
      let (lesson, exercise) = curriculum.lessons.lazy.compactMap({ l in
        l.exercise(exerciseId).map { (l, $0) }
      })
      .first
    else {
      throw TutoringError.notFound("curriculum '\(curriculum.id)' has no exercise '\(exerciseId)'")
    }
    let correct = exercise.answer.accepts(response)
    let before = try await store.attemptCounts(sessionId: sessionId, exerciseId: exerciseId)
    let revealedBefore = min(before.wrong, exercise.hints.count)
    var hint: String?
    var revealedAfter = revealedBefore
    if !correct, before.wrong < exercise.hints.count {
      hint = exercise.hints[before.wrong]
      revealedAfter = before.wrong + 1
    }
    let objective = exercise.objective.flatMap { id in lesson.objectives.first { $0.id == id } }
    let parameters = objective?.mastery ?? curriculum.mastery
    let attempt = StoredAttempt(
      id: UUID().uuidString.lowercased(),
      sessionId: sessionId,
      studentId: session.studentId,
      curriculumId: curriculum.id,
      lessonId: lesson.id,
      exerciseId: exerciseId,
      objectiveId: objective?.id,
      answer: response,
      correct: correct,
      hintsRevealed: revealedBefore,
      hintRevealed: revealedAfter > revealedBefore ? revealedAfter : nil,
      createdAtMs: Date().millisecondsSince1970
    )
    let probability = try await store.recordAttempt(attempt) { prior in
      KnowledgeTracing.update(prior: prior, correct: correct, parameters: parameters)
    }
    var mastery: ObjectiveMastery?
    if let objective, let probability {
      mastery = ObjectiveMastery(
        curriculumId: curriculum.id,
        lessonId: lesson.id,
        objectiveId: objective.id,
        probability: probability,
        mastered: probability >= parameters.threshold
      )
    }
    var feedback = correct ? "Correct!" : "Not quite."
    if !correct { feedback += hint == nil ? " Have another look at the lesson." : " Here is a hint." }
    return AnswerResult(
      attemptId: attempt.id,
      correct: correct,
      feedback: feedback,
      hint: hint,
      hintsRevealed: revealedAfter,
      explanation: correct ? exercise.explanation : nil,
      mastery: mastery
    )
  }

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

  private func existingSession(_ id: String) async throws -> StoredSession {
    try checkIdentifier(id, field: "session_id")
    guard let session = try await store.session(id: id) else {
      throw TutoringError.notFound("no session '\(id)'")
    }
    return session
  }

  /// Text a student typed, trimmed: not empty, at most `maxQuestionCharacters`.
  private func studentText(_ raw: String, field: String) throws -> String {
    let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !text.isEmpty else { throw TutoringError.invalidArgument("\(field) is empty") }
    guard text.count <= limits.maxQuestionCharacters else {
      throw TutoringError.invalidArgument(
        "\(field) is \(text.count) characters long; at most \(limits.maxQuestionCharacters) are accepted"
      )
    }
    return text
  }

  /// A session that can still take questions and answers, with its curriculum as served now.
  private func activeSession(_ id: String) async throws -> (StoredSession, Curriculum) {
    let session = try await existingSession(id)
    guard session.state == .active else {
      throw TutoringError.failedPrecondition("session '\(id)' has ended; start a new one")
    }
    guard let curriculum = catalog.snapshot.curriculum(session.curriculumId) else {
      throw TutoringError.failedPrecondition(
        "the session's curriculum '\(session.curriculumId)' is no longer served"
      )
    }
    return (session, curriculum)
  }
}

extension Duration {
  /// Whole milliseconds.
  public var milliseconds: Int64 {
    let (s, atto) = components
    return s * 1000 + atto / 1_000_000_000_000_000
  }
}
