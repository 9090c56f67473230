/// How to pick the next tokens. The defaults are greedy decoding of up to 128 tokens.
///
/// Sampling follows `transformers`' `generate(do_sample=True)`: repetition penalty, then
/// temperature, top-k and top-p, then a draw from the softmax. `temperature == 0` means greedy
/// (argmax after the repetition penalty).
public struct GenerationParameters: Sendable, Equatable {
  public var maxNewTokens: Int
  /// 0 means greedy; otherwise logits are divided by it before sampling.
  public var temperature: Float
  /// Keep only the k most likely tokens; `nil` or 0 disables.
  public var topK: Int?
  /// Keep the smallest set of tokens whose probability reaches p; `nil` or 1 disables.
  public var topP: Float?
  /// Penalise tokens already in the prompt or output (CTRL's rule, as transformers); 1 disables.
  public var repetitionPenalty: Float
  /// Same seed, same output. `nil` draws a fresh seed.
  public var seed: UInt64?
  /// Generation stops when the text contains one of these; the stop text is not returned.
  public var stopSequences: [String]
  /// Stop at `<|endoftext|>` (the model's `eos_token_id`).
  public var stopAtEndOfText: Bool
  /// Steering toward source texts (copy support, context-aware decoding, no repeated n-grams,
  /// ending at a sentence); all off by default.
  public var grounding: Grounding
  /// Text the generation must not write (``BannedText``); none by default.
  public var bannedText: BannedText

  public init(
    maxNewTokens: Int = 128,
    temperature: Float = 0,
    topK: Int? = nil,
    topP: Float? = nil,
    repetitionPenalty: Float = 1,
    seed: UInt64? = nil,
    stopSequences: [String] = [],
    stopAtEndOfText: Bool = true,
    grounding: Grounding = Grounding(),
    bannedText: BannedText = BannedText()
  ) {
    self.maxNewTokens = maxNewTokens
    self.temperature = temperature
    self.topK = topK
    self.topP = topP
    self.repetitionPenalty = repetitionPenalty
    self.seed = seed
    self.stopSequences = stopSequences
    self.stopAtEndOfText = stopAtEndOfText
    self.grounding = grounding
    self.bannedText = bannedText
  }

  /// Whether tokens are drawn at random (temperature > 0) rather than chosen by argmax.
  public var isSampling: Bool { temperature > 0 }

  /// Throws ``EngineError/invalidParameter(name:reason:)`` naming the first bad setting.
  public func validate() throws {
    guard maxNewTokens >= 0 else {
      throw EngineError.invalidParameter(
        name: "max_new_tokens",
        reason: "must be at least 0, got \(maxNewTokens)"
      )
    }
    guard temperature >= 0, temperature.isFinite else {
      throw EngineError.invalidParameter(
        name: "temperature",
        reason: "must be a finite number ≥ 0, got \(temperature)"
      )
    }
    if let topK, topK < 0 {
      throw EngineError.invalidParameter(name: "top_k", reason: "must be ≥ 0, got \(topK)")
    }
    if let topP, !(topP > 0 && topP <= 1) {
      throw EngineError.invalidParameter(name: "top_p", reason: "must be in (0, 1], got \(topP)")
    }
    guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
      throw EngineError.invalidParameter(
        name: "repetition_penalty",
        reason: "must be a finite number > 0, got \(repetitionPenalty)"
      )
    }
    if stopSequences.contains(where: \.isEmpty) {
      throw EngineError.invalidParameter(name: "stop", reason: "stop strings must not be empty")
    }
    try grounding.validate()
    try bannedText.validate()
  }
}
