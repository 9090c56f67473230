import Engine
import TutorStore

extension TutoringService {
  /// What the server runs: the checkpoint's shape and how it is executed.
  public struct ModelInfo: Sendable, Equatable {
    public var name: String
    public var parameterCount: Int
    public var contextLength: Int
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var windowSize: Int
    public var weightFormat: String
    public var threads: Int
    public var maxConcurrentGenerations: Int
  }

  public func modelInfo(by caller: Principal) throws -> ModelInfo {
    try caller.authorize(.modelInfo)
    return modelInfo()
  }

  func modelInfo() -> ModelInfo {
    let c = model.model.configuration
    return ModelInfo(
      name: model.name,
      parameterCount: model.model.parameterCount,
      contextLength: c.maxPositionEmbeddings,
      vocabularySize: c.vocabSize,
      hiddenSize: c.hiddenSize,
      layers: c.numLayers,
      heads: c.numHeads,
      windowSize: c.windowSize,
      weightFormat: model.model.weightFormat.rawValue,
      threads: model.model.threads,
      maxConcurrentGenerations: model.scheduler.maxConcurrent
    )
  }

  /// Longest raw prompt accepted, in characters.
  public static let maxRawPromptCharacters = 32_000

  /// Raw generation for operators: `prompt` continued as it is (no lesson, no grounding), with
  /// the request's sampling options and stop strings, through the same generation slots as
  /// answers (RESOURCE_EXHAUSTED when the queue is full). `onText` receives each piece of text
  /// and the token ids that completed it.
  /// - Throws: `CancellationError` when the caller cancelled or `onText` threw.
  public func generate(
    by caller: Principal,
    prompt: String,
    stop: [String],
    options: GenerationOptions,
    onText: (String, [Int]) async throws -> Void
  ) async throws -> TutorModel.Outcome {
    try caller.authorize(.generate)
    guard prompt.count <= Self.maxRawPromptCharacters else {
      throw TutoringError.invalidArgument(
        "prompt is \(prompt.count) characters long; at most \(Self.maxRawPromptCharacters) are accepted"
      )
    }
    guard stop.count <= 16, stop.allSatisfy({ !$0.isEmpty && $0.count <= 256 }) else {
      throw TutoringError.invalidArgument("stop takes at most 16 non-empty strings of up to 256 characters")
    }
    let maxNewTokens = options.maxNewTokens ?? limits.defaultMaxNewTokens
    guard maxNewTokens > 0, maxNewTokens <= limits.maxNewTokens else {
      throw TutoringError.invalidArgument(
        "max_new_tokens must be between 1 and \(limits.maxNewTokens), got \(maxNewTokens)"
      )
    }
    let parameters = GenerationParameters(
      maxNewTokens: maxNewTokens,
      temperature: options.temperature ?? 0,
      topK: options.topK.flatMap { $0 == 0 ? nil : $0 },
      topP: options.topP,
      repetitionPenalty: options.repetitionPenalty ?? 1,
      seed: options.seed,
      stopSequences: stop
    )
    do {
      try parameters.validate()
    } catch {
      throw TutoringError.invalidArgument("\(error)")
    }
    let promptTokens = model.tokenizer.encode(prompt, allowSpecialTokens: false)
    guard promptTokens.count < model.contextLength else {
      throw TutoringError.invalidArgument(
        "the prompt is \(promptTokens.count) tokens; the model's context holds \(model.contextLength)"
      )
    }
    let outcome = try await model.withGenerationSlot {
      try await model.generate(promptTokens: promptTokens, parameters: parameters, onText: onText)
    }
    // The caller went away (or cancelled): nothing more to send.
    if outcome.finishReason == .cancelled { throw CancellationError() }
    return outcome
  }

}
