/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
  /// The model produced `<|endoftext|>`.
  case endOfText = "end_of_text"
  /// The text reached a caller-given stop string.
  case stopSequence = "stop_sequence"
  /// `max_new_tokens` were generated, or the context window is full.
  case length
  /// The caller cancelled.
  case cancelled
}

/// The outcome of one generation.
public struct GenerationResult: Sendable, Equatable {
  public var promptTokenIds: [Int]
  /// Generated ids, including a final `<|endoftext|>` and the tokens that formed a stop string.
  public var tokenIds: [Int]
  /// Generated text, without `<|endoftext|>` or the stop string.
  public var text: String
  public var finishReason: FinishReason
  /// Seconds spent on the prompt (prefill) and on the generated tokens.
  public var promptSeconds: Double
  public var generationSeconds: Double

  /// Generated tokens per second of decoding (the prefill excluded).
  public var tokensPerSecond: Double {
    generationSeconds > 0 ? Double(max(tokenIds.count - 1, 0)) / generationSeconds : 0
  }
}

/// What a generation stream yields.
public enum GenerationEvent: Sendable, Equatable {
  /// One token and the text it completed (empty while a character or a possible stop string is
  /// incomplete).
  case token(id: Int, text: String)
  /// The last event: the whole result.
  case finished(GenerationResult)
}
