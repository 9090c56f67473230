import Curriculum
import Engine
import Foundation
import Logging
import Metrics
import Synchronization
import TutorStore

// Questions: a student asks, the model answers from the lesson notes, streamed and stored.
extension TutoringService {
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

  /// What screening did to an answer.
  public enum SafetyOutcome: Sendable, Equatable {
    /// The question needed an adult (self-harm, threats…): the model was not asked, and the
    /// answer is the configured reply.
    case replied([MessageScreen.Finding])
    /// The model's answer failed screening: the student read the neutral message in its place
    /// (the answer), and what was streamed before is to be replaced by it.
    case withheld([MessageScreen.Finding])
  }

  /// The stored finish reasons of turns that screening answered or withheld.
  public static let safetyReplyFinishReason = "safety_reply"
  public static let withheldFinishReason = "withheld"

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
    /// Set when screening replied in the model's place or withheld its answer.
    public var safety: SafetyOutcome? = nil
    /// Set when the question was about an exercise.
    public var exerciseHelp: ExerciseHelp? = nil
  }

  /// Answers a question in a session, streaming the answer through `onEvent`.
  ///
  /// Validation errors are thrown before anything is stored. Once the turn is stored, the call
  /// always records how it ended: completed, cancelled (the task was cancelled or `onEvent`
  /// threw; the partial answer is kept) or failed.
  public func ask(
    by caller: Principal,
    sessionId: String,
    question rawQuestion: String,
    exerciseId: String? = nil,
    options: GenerationOptions = GenerationOptions(),
    onEvent: (AskEvent) async throws -> Void
  ) async throws -> AskCompletion {
    try caller.authorize(.ask)
    let session = try await authorizedSession(sessionId, caller: caller, write: true)
    let clock = ContinuousClock()
    let arrived = clock.now
    let typed = try studentText(rawQuestion, field: "question")
    // Screened as typed (personal data included); personal data never reaches the prompt, the
    // database or an export.
    let question = redacted(typed)
    // The lexicon first; the classifier below, once the search has embedded the question.
    var findings = limits.safety.screen(typed)
    let questionTokens = model.countTokens(question)
    guard questionTokens <= limits.maxQuestionTokens else {
      throw TutoringError.invalidArgument(
        "question is \(questionTokens) tokens long; at most \(limits.maxQuestionTokens) are accepted"
      )
    }
    let curriculum = try servedCurriculum(of: session)
    let lesson = curriculum.lesson(session.lessonId) ?? curriculum.lessons.first
    var parameters = try generationParameters(options, curriculum: curriculum)

    // One question at a time per session, so that each answer sees the one before.
    guard answering.withLock({ $0.insert(sessionId).inserted }) else {
      throw TutoringError.failedPrecondition(
        "session '\(sessionId)' is already answering a question; wait for it to finish"
      )
    }
    defer { _ = answering.withLock { $0.remove(sessionId) } }

    // What needs an adult gets the configured reply; the model is not asked, the turn is flagged.
    func replyIfNeeded() async throws -> AskCompletion? {
      let needsAdult = limits.safety.replyFindings(findings)
      guard !needsAdult.isEmpty else { return nil }
      return try await safetyReply(
        sessionId: sessionId,
        question: question,
        findings: needsAdult,
        flags: TurnFlag.flags(findings, source: .question),
        reply: limits.safety.reply(to: needsAdult, curriculumReply: curriculum.safetyReply),
        arrived: arrived,
        onEvent: onEvent
      )
    }
    if let reply = try await replyIfNeeded() { return reply }

    // A question about an exercise: help that never contains its answer.
    var plan = try await exercisePlan(
      exerciseId: exerciseId,
      question: question,
      curriculum: curriculum,
      session: session
    )
    if let plan { parameters.bannedText = plan.forms.bannedText }

    // A question screening answered in the model's place never reaches the model later either,
    // nor a withheld answer.
    let screenedOut: Set<String?> = [Self.safetyReplyFinishReason, Self.withheldFinishReason]
    let answered = try await store.turns(sessionId: sessionId)
      .filter { $0.status == .completed && !$0.answer.isEmpty && !screenedOut.contains($0.finishReason) }
      .suffix(limits.historyTurns)
    let history = answered.map {
      (question: $0.question, answer: $0.answer.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    var hits = await catalog.search(
      plan.map { question + " " + $0.exercise.prompt } ?? question,
      curriculum: curriculum.id,
      // Only a lesson the student chose is favoured: a session started without one gets the
      // curriculum's first lesson, and favouring it pulled that lesson's notes above the ones
      // that answer questions about the rest of the course (measured with `tutor eval answers`).
      lesson: session.lessonChosen ? lesson?.id : nil,
      limit: limits.snippetsPerPrompt
    )
    // A follow-up that finds no note of its own ("what does that mean?", "can you say it more
    // simply?") is still about the notes of the answer before it: they stay, in the same order,
    // so the prompt also begins with the previous turn's text and the prefix cache serves it.
    if hits.isEmpty, plan == nil, let previous = answered.last {
      hits = curriculum.notes(previous.snippetIds)
    }
    // The classifier reads the question as stored, by the vector the search just computed (one
    // embedding, one pass through the retrieval queue; an exercise's search embeds other text).
    if limits.safety.classifier != nil {
      let cached = catalog.cachedEmbedding(question)
      let vector: [Float]? = if let cached { cached } else { await catalog.embedding(question) }
      findings = limits.safety.screen(typed, vector: vector)
      if let reply = try await replyIfNeeded() { return reply }
    }
    let questionFlags = TurnFlag.flags(findings, source: .question)
    // The prompt names the chosen lesson, or else the lesson of the best note.
    let promptLesson =
      plan?.lesson
      ?? (session.lessonChosen ? lesson : hits.first.flatMap { curriculum.lesson($0.lessonId) } ?? lesson)
    // The tutor's answer opens with the help (hints, a worked example) and the model goes on.
    if plan != nil { plan!.opening = Self.opening(plan!, curriculum: curriculum, note: hits.first) }
    let opening = plan?.opening ?? ""
    let openingTokens = opening.isEmpty ? 0 : model.countTokens(" " + opening)
    let prompt: PromptBuilder.Prompt
    do {
      prompt = try Self.prompt(
        question: plan.map {
          "\(question)\n(The exercise: \($0.exercise.prompt) Help me think it through; don't tell me the answer.)"
        } ?? question,
        curriculum: curriculum,
        lesson: promptLesson,
        history: Array(history),
        hits: hits,
        contextLength: model.contextLength,
        answerTokens: parameters.maxNewTokens + openingTokens,
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
    func opened(_ text: String) -> String {
      opening.isEmpty ? text : text + (text.last?.isWhitespace == true ? "" : " ") + opening
    }
    let promptTokens = tokenizer.encode(opened(prompt.text), allowSpecialTokens: false)
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
      contrastPromptTokens: tokenizer.encode(opened(prompt.textWithoutNotes), allowSpecialTokens: false),
      encode: { tokenizer.encode($0, allowSpecialTokens: false) }
    )
    let citations = curriculum.citations(prompt.snippetIds)

    // Wait for a generation slot before storing anything: a request refused for load
    // (RESOURCE_EXHAUSTED) leaves no turn behind.
    return try await model.withGenerationSlot {
      let turn = try await beginTurn(
        sessionId: sessionId,
        question: question,
        snippetIds: prompt.snippetIds,
        promptTokens: promptTokens.count,
        flags: questionFlags
      )
      // From here the turn is stored, and how it ends is always recorded.
      var outcome: TutorModel.Outcome?
      var engineError: (any Error)?
      var clientGone = false
      // Each word is screened before the student reads it; a failure stops generation.
      var gate = AnswerGate(screen: limits.safety)
      var finalText = opening
      do {
        try await onEvent(.started(turnId: turn.id, snippetIds: prompt.snippetIds))
      } catch {
        clientGone = true
      }
      if !clientGone, !opening.isEmpty {
        do {
          if let release = gate.offer(opening), !release.isEmpty { try await onEvent(.delta(release)) }
        } catch {
          clientGone = true
        }
      }
      if !clientGone {
        do {
          outcome = try await model.generate(promptTokens: promptTokens, parameters: parameters) { text, _ in
            guard let release = gate.offer(text) else { throw AnswerWithheld() }
            // As stored (see LearningRecordStore.storable): no NUL characters.
            if !release.isEmpty { try await onEvent(.delta(LearningRecordStore.storable(release))) }
          }
          if let outcome { finalText = opening + outcome.text }
          if let outcome, outcome.finishReason != .cancelled {
            // The engine banned the exercise's answer while decoding; the end is checked again
            // (a number that ends the text is only whole there), and the text cut before it.
            if let plan, let cut = plan.forms.firstReveal(in: finalText) {
              finalText = String(finalText[..<cut])
              while finalText.last?.isWhitespace == true { finalText.removeLast() }
              if plan.forms.revealed(in: finalText) || finalText.count < opening.count { finalText = opening }
            }
            if let rest = gate.finish(finalText: finalText), !rest.isEmpty {
              try await onEvent(.delta(LearningRecordStore.storable(rest)))
            }
          }
        } catch {
          if outcome == nil { engineError = error } else { clientGone = true }
        }
      }
      let latency = clock.now - arrived
      // Text the student read that the final answer no longer has (cut before an exercise's
      // answer): replaced, as a withheld answer is.
      let retracted = !gate.isWithheld && outcome != nil && gate.releasedBeyond(finalText)
      let withheld = gate.isWithheld || retracted
      let cancelled =
        !withheld && (clientGone || outcome?.finishReason == .cancelled || Task.isCancelled)
      let status: StoredTurn.Status = cancelled ? .cancelled : engineError != nil ? .failed : .completed
      let finish: FinishReason? = cancelled ? .cancelled : withheld ? .stopSequence : outcome?.finishReason
      // A withheld answer is never stored: the student's record holds what they read. As the
      // deltas were sent and as the record is stored: a NUL the model wrote reads as U+FFFD.
      let answer = LearningRecordStore.storable(
        gate.isWithheld ? limits.safety.withheldReply : outcome == nil ? opening : finalText
      )
      let answerFlags = TurnFlag.flags(gate.findings, source: .answer)
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
          finishReason: withheld ? Self.withheldFinishReason : finish?.rawValue,
          flags: answerFlags.isEmpty ? nil : questionFlags + answerFlags
        )
      }.value
      self.countFlags(questionFlags + answerFlags, turnId: turn.id, sessionId: sessionId)
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
        latency: latency,
        safety: withheld ? .withheld(gate.findings) : nil,
        exerciseHelp: plan?.help
      )
    }
  }

  /// Stores a question (``LearningRecordStore/beginTurn(sessionId:question:snippetIds:promptTokens:flags:)``),
  /// with the store's refusals as the client should read them.
  func beginTurn(
    sessionId: String,
    question: String,
    snippetIds: [String],
    promptTokens: Int,
    flags: [TurnFlag]
  ) async throws -> StoredTurn {
    do {
      return try await store.beginTurn(
        sessionId: sessionId,
        question: question,
        snippetIds: snippetIds,
        promptTokens: promptTokens,
        flags: flags
      )
    } catch TutorStoreError.sessionEnded {
      throw TutoringError.failedPrecondition("session '\(sessionId)' has ended; start a new one")
    } catch let error as TutorStoreError {
      // Another replica is answering in this session: the database's unique index said so.
      guard case .sessionBusy = error else { throw error }
      throw TutoringError.failedPrecondition(error.description)
    }
  }

  /// Thrown from the stream's callback to stop a generation whose answer failed screening.
  struct AnswerWithheld: Error {}

  /// A question that needs an adult: stored flagged with the configured reply as its answer;
  /// the model is not asked (no generation slot, no tokens).
  func safetyReply(
    sessionId: String,
    question: String,
    findings: [MessageScreen.Finding],
    flags: [TurnFlag],
    reply: String,
    arrived: ContinuousClock.Instant,
    onEvent: (AskEvent) async throws -> Void
  ) async throws -> AskCompletion {
    let turn = try await beginTurn(
      sessionId: sessionId,
      question: question,
      snippetIds: [],
      promptTokens: 0,
      flags: flags
    )
    countFlags(flags, turnId: turn.id, sessionId: sessionId)
    var clientGone = false
    do {
      try await onEvent(.started(turnId: turn.id, snippetIds: []))
      try await onEvent(.delta(reply))
    } catch {
      clientGone = true
    }
    let latency = ContinuousClock.now - arrived
    let store = self.store
    _ = try await Task {
      try await store.finishTurn(
        id: turn.id,
        answer: reply,
        completionTokens: 0,
        latencyMilliseconds: Int(latency.milliseconds),
        status: clientGone ? .cancelled : .completed,
        finishReason: Self.safetyReplyFinishReason
      )
    }.value
    if clientGone || Task.isCancelled { throw CancellationError() }
    return AskCompletion(
      turnId: turn.id,
      answer: reply,
      snippetIds: [],
      citations: [],
      promptTokens: 0,
      completionTokens: 0,
      finishReason: .stopSequence,
      latency: latency,
      safety: .replied(findings)
    )
  }

  /// Counts flagged turns by category for operators (`tutor_flagged_turns_total`) and logs each
  /// flag without the text.
  func countFlags(_ flags: [TurnFlag], turnId: String, sessionId: String) {
    for category in Set(flags.map(\.category)) {
      Counter(label: "tutor_flagged_turns_total", dimensions: [("category", category)]).increment()
    }
    for flag in flags where flag.severity != MessageScreen.Severity.low.rawValue {
      logger.warning(
        "turn flagged",
        metadata: [
          "turn": "\(turnId)", "session": "\(sessionId)", "source": "\(flag.source.rawValue)",
          "category": "\(flag.category)", "severity": "\(flag.severity)",
        ]
      )
    }
  }

  /// Engine parameters from the request's options, the curriculum's defaults and the limits.
  func generationParameters(
    _ options: GenerationOptions,
    curriculum: Course
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
}
