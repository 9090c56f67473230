import Foundation
import GRPCCore
import Logging
import SwiftProtobuf
import TutorAPI
import TutorStore
import Tutoring

// Mapping between the tutoring core and the `tutor.v1` messages.

extension Google_Protobuf_Timestamp {
  init(milliseconds ms: Int64) {
    self.init(seconds: ms / 1000, nanos: Int32(ms % 1000) * 1_000_000)
  }
}

extension Google_Protobuf_Duration {
  init(milliseconds ms: Int64) {
    self.init(seconds: ms / 1000, nanos: Int32(ms % 1000) * 1_000_000)
  }

  init(_ duration: Swift.Duration) {
    let (s, atto) = duration.components
    self.init(seconds: s, nanos: Int32(atto / 1_000_000_000))
  }
}

extension Tutor_V1_FinishReason {
  init(_ reason: FinishReason?) {
    switch reason {
    case .endOfText: self = .endOfText
    case .stopSequence: self = .stopSequence
    case .length: self = .length
    case .cancelled: self = .cancelled
    case nil: self = .unspecified
    }
  }
}

extension Tutor_V1_FinishReason {
  /// A stored turn's finish reason: the engine's, or screening's.
  init(stored: String?) {
    switch stored {
    case TutoringService.safetyReplyFinishReason: self = .safetyReply
    case TutoringService.withheldFinishReason: self = .withheld
    default: self.init(stored.flatMap(FinishReason.init(rawValue:)))
    }
  }

  /// How an answer ended, as the student is told: screening's outcome first.
  init(_ completion: TutoringService.AskCompletion) {
    switch completion.safety {
    case .replied: self = .safetyReply
    case .withheld: self = .withheld
    case nil: self.init(completion.finishReason)
    }
  }
}

extension Tutor_V1_ExerciseHelp {
  init(_ help: TutoringService.ExerciseHelp) {
    self.init()
    exerciseID = help.exerciseId
    switch help.level {
    case .guidingQuestion: level = .guidingQuestion
    case .hint: level = .hint
    case .workedExample: level = .workedExample
    }
    hints = help.hints
    recognised = help.recognised
    wrongAttempts = Int32(help.wrongAttempts)
  }
}

extension Tutor_V1_SafetySeverity {
  init(_ name: String) {
    switch name {
    case "low": self = .low
    case "medium": self = .medium
    case "high": self = .high
    default: self = .unspecified
    }
  }

  /// The store's name for a severity; nil for unspecified.
  var name: String? {
    switch self {
    case .low: "low"
    case .medium: "medium"
    case .high: "high"
    case .unspecified, .UNRECOGNIZED: nil
    }
  }

  var rank: Int { name.flatMap { FlagFilter.severities.firstIndex(of: $0) } ?? -1 }
}

extension Tutor_V1_FlaggedTurn {
  init(_ f: FlaggedTurn) {
    self.init()
    turnID = f.turn.id
    sessionID = f.turn.sessionId
    studentID = f.studentId
    curriculumID = f.curriculumId
    lessonID = f.lessonId
    index = Int32(f.turn.index)
    question = f.turn.question
    answer = f.turn.answer
    createdAt = .init(milliseconds: f.turn.createdAtMs)
    exerciseID = f.exerciseId ?? ""
    flags = f.turn.flags.map { flag in
      .with {
        $0.category = flag.category
        $0.severity = .init(flag.severity)
        switch flag.source {
        case .question: $0.source = .question
        case .answer: $0.source = .answer
        case .exerciseAnswer: $0.source = .exerciseAnswer
        }
      }
    }
    if let worst = flags.max(by: { $0.severity.rank < $1.severity.rank }) {
      severity = worst.severity
      category = worst.category
    }
  }
}

extension Tutor_V1_Session {
  /// `citations` gives each turn's notes (``TutoringService/citations(of:in:)``).
  init(
    _ s: StoredSession,
    turnCount: Int,
    turns: [StoredTurn] = [],
    citations: (StoredTurn) -> [Citation] = { _ in [] }
  ) {
    self.init()
    sessionID = s.id
    studentID = s.studentId
    curriculumID = s.curriculumId
    lessonID = s.lessonId
    state = s.state == .active ? .active : .ended
    createdAt = .init(milliseconds: s.createdAtMs)
    updatedAt = .init(milliseconds: s.updatedAtMs)
    if let ended = s.endedAtMs { endedAt = .init(milliseconds: ended) }
    self.turnCount = Int32(turnCount)
    self.turns = turns.map { Tutor_V1_Turn($0, citations: citations($0)) }
  }
}

extension Tutor_V1_Citation {
  init(_ c: Citation) {
    self.init()
    snippetID = c.snippetId
    lessonID = c.lessonId
    lessonTitle = c.lessonTitle
    heading = c.heading
    text = c.text
  }
}

extension Tutor_V1_Turn {
  init(_ t: StoredTurn, citations: [Citation] = []) {
    self.init()
    self.citations = citations.map(Tutor_V1_Citation.init)
    turnID = t.id
    sessionID = t.sessionId
    index = Int32(t.index)
    question = t.question
    answer = t.answer
    snippetIds = t.snippetIds
    usage = .with {
      $0.promptTokens = Int32(t.promptTokens)
      $0.completionTokens = Int32(t.completionTokens)
    }
    if let ms = t.latencyMilliseconds { latency = .init(milliseconds: Int64(ms)) }
    switch t.status {
    case .answering: status = .answering
    case .completed: status = .completed
    case .cancelled: status = .cancelled
    case .interrupted: status = .interrupted
    case .failed: status = .failed
    }
    finishReason = .init(stored: t.finishReason)
    createdAt = .init(milliseconds: t.createdAtMs)
    if let done = t.completedAtMs { completedAt = .init(milliseconds: done) }
  }
}

extension Tutor_V1_ObjectiveMastery {
  init(_ m: TutoringService.ObjectiveMastery) {
    self.init()
    curriculumID = m.curriculumId
    lessonID = m.lessonId
    objectiveID = m.objectiveId
    probability = m.probability
    mastered = m.mastered
  }
}

extension Tutor_V1_Diagnostic {
  init(_ d: CurriculumDiagnostic) {
    self.init()
    file = d.file
    line = Int32(d.line)
    column = Int32(d.column)
    severity = d.severity == .error ? .error : .warning
    message = d.message
  }
}

extension Tutor_V1_CurriculumSummary {
  init(_ c: Course) {
    self.init()
    curriculumID = c.id
    title = c.title
    description_p = c.description
    audience = c.audience ?? ""
    level = c.level ?? ""
    language = c.language
    version = c.version
    lessonCount = Int32(c.lessons.count)
  }
}

extension Tutor_V1_LessonSummary {
  init(_ l: Lesson) {
    self.init()
    lessonID = l.id
    title = l.title
    objectives = l.objectives.map { o in
      .with {
        $0.objectiveID = o.id
        $0.text = o.text
      }
    }
    prerequisites = l.prerequisites
    keyTerms = l.keyTerms
    exerciseCount = Int32(l.exercises.count)
  }
}

extension Tutor_V1_Exercise {
  /// As a student sees it: without the answer, hints or explanation.
  init(_ e: Exercise) {
    self.init()
    exerciseID = e.id
    prompt = e.prompt
    switch e.answer {
    case .exact: answerKind = .text
    case .numeric: answerKind = .number
    case .choice(let choices, _):
      answerKind = .choice
      self.choices = choices
    case .regex: answerKind = .pattern
    }
    objectiveID = e.objective ?? ""
    hintCount = Int32(e.hints.count)
  }
}

extension TutoringService.GenerationOptions {
  init(_ o: Tutor_V1_GenerationOptions) {
    self.init(
      maxNewTokens: o.hasMaxNewTokens ? Int(o.maxNewTokens) : nil,
      temperature: o.hasTemperature ? o.temperature : nil,
      topK: o.hasTopK ? Int(o.topK) : nil,
      topP: o.hasTopP ? o.topP : nil,
      repetitionPenalty: o.hasRepetitionPenalty ? o.repetitionPenalty : nil,
      seed: o.hasSeed ? o.seed : nil,
      copyBias: o.hasCopyBias ? o.copyBias : nil,
      contrastStrength: o.hasContrastStrength ? o.contrastStrength : nil,
      noRepeatNGramSize: o.hasNoRepeatNgramSize ? Int(o.noRepeatNgramSize) : nil,
      endAtSentence: o.hasEndAtSentence ? o.endAtSentence : nil,
      maxSentences: o.hasMaxSentences ? Int(o.maxSentences) : nil
    )
  }
}

// Errors: the core's become statuses once, here (grpc-swift converts anything
// `RPCErrorConvertible` a handler throws); ``ObservabilityInterceptor`` classifies the rest.
extension TutoringError: RPCErrorConvertible {
  public var rpcErrorCode: RPCError.Code {
    switch self {
    case .invalidArgument: .invalidArgument
    case .notFound: .notFound
    case .failedPrecondition: .failedPrecondition
    case .resourceExhausted: .resourceExhausted
    case .internalError: .internalError
    case .unauthenticated: .unauthenticated
    case .permissionDenied: .permissionDenied
    case .unavailable: .unavailable
    }
  }

  public var rpcErrorMessage: String { description }

  /// The standard retry hint (gRPC's retry policy honours it): the generation queue drains in
  /// about the time of one answer; a database that takes no writes needs longer.
  public var rpcErrorMetadata: Metadata {
    switch self {
    case .resourceExhausted: ["grpc-retry-pushback-ms": "1000"]
    case .unavailable: ["grpc-retry-pushback-ms": "5000"]
    default: [:]
    }
  }
}
