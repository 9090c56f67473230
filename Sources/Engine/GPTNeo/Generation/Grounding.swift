/// Decoding that stays with given source texts (a tutor's retrieved lesson notes). Every part is
/// off by default, and with all of it off the tokens are exactly transformers' greedy or sampled
/// tokens.
///
/// - **Copy support** (`copyBias > 0`): a bonus on the logits of tokens that continue a span of a
///   source — a pointer/copy mechanism applied at decode time. A span may start where a source
///   starts (sources are sentences) whenever the answer is at a sentence boundary, or anywhere
///   once the answer's last two tokens match the source there. The bonus grows with the length of
///   the match, so a copy once begun tends to finish its sentence, and it scales with the source's
///   `weight`, so the model is steered toward the sources the caller trusts most.
/// - **Context-aware decoding** (`contrastStrength > 0`, Shi et al. 2023, "Trusting Your
///   Evidence"): the answer is also scored after `contrastPromptTokens` (the prompt without the
///   sources), and tokens are chosen from `(1 + α)·logits(with) − α·logits(without)`. The second
///   sequence runs in the same forward passes as the first (rows, not a second pass).
/// - **No repeated n-grams** (`noRepeatNGramSize = n > 0`): a token that would repeat an n-gram
///   already in the *generated* tokens is banned (the prompt's n-grams stay allowed, so sources
///   remain copyable).
/// - **Ending at a sentence boundary** (`endAtSentenceBoundary`): in the last quarter of the token
///   budget (at most ``sentenceReserve`` tokens) generation stops at the first sentence end, so an
///   answer cut by its budget ends with a full sentence rather than mid-word; `maxSentences > 0`
///   ends it after that many sentences. A sentence ends with a token ending in `.`, `!`, `?` or a
///   line break that is followed by a token starting with white space (so `3.5` ends nothing); the
///   following token is then not emitted.
public struct Grounding: Sendable, Equatable {
  /// One text the answer may copy from: a sentence of a note, as the model's tokens (start it with
  /// a space, as it would appear after other text).
  public struct Source: Sendable, Equatable {
    public var tokens: [Int]
    /// How strongly to steer toward it, in 0...1 (its note's rank and its relevance).
    public var weight: Float
    /// Sources of one note share a group: after a sentence of a group, the next sentence of the
    /// same group is preferred over a jump to another note.
    public var group: Int

    public init(tokens: [Int], weight: Float = 1, group: Int = 0) {
      self.tokens = tokens
      self.weight = weight
      self.group = group
    }
  }

  public var sources: [Source]
  /// Logit bonus for the best-supported continuation of a source; 0 disables copy support.
  public var copyBias: Float
  /// The prompt without the sources, for context-aware decoding.
  public var contrastPromptTokens: [Int]
  /// α of context-aware decoding; 0 disables it.
  public var contrastStrength: Float
  /// Ban tokens that would repeat an n-gram of the generated tokens; 0 disables.
  public var noRepeatNGramSize: Int
  /// Stop at the first sentence end once the budget is nearly spent.
  public var endAtSentenceBoundary: Bool
  /// End the answer after this many sentences; 0: no limit.
  public var maxSentences: Int

  /// Tokens at the end of the budget in which an answer stops at its first sentence end.
  public static let sentenceReserve = 32

  public init(
    sources: [Source] = [],
    copyBias: Float = 0,
    contrastPromptTokens: [Int] = [],
    contrastStrength: Float = 0,
    noRepeatNGramSize: Int = 0,
    endAtSentenceBoundary: Bool = false,
    maxSentences: Int = 0
  ) {
    self.sources = sources
    self.copyBias = copyBias
    self.contrastPromptTokens = contrastPromptTokens
    self.contrastStrength = contrastStrength
    self.noRepeatNGramSize = noRepeatNGramSize
    self.endAtSentenceBoundary = endAtSentenceBoundary
    self.maxSentences = maxSentences
  }

  /// Whether anything changes the tokens transformers would choose.
  public var isActive: Bool {
    (copyBias > 0 && !sources.isEmpty) || contrastStrength > 0 || noRepeatNGramSize > 0
      || endAtSentenceBoundary || maxSentences > 0
  }

  /// Throws ``EngineError/invalidParameter(name:reason:)`` naming the first bad setting, or
  /// ``EngineError/tokenOutOfRange(id:vocabularySize:)`` for a source token outside the vocabulary.
  public func validate(vocabularySize: Int? = nil) throws {
    guard copyBias >= 0, copyBias.isFinite else {
      throw EngineError.invalidParameter(
        name: "copy_bias",
        reason: "must be a finite number ≥ 0, got \(copyBias)"
      )
    }
    guard contrastStrength >= 0, contrastStrength.isFinite else {
      throw EngineError.invalidParameter(
        name: "contrast_strength",
        reason: "must be a finite number ≥ 0, got \(contrastStrength)"
      )
    }
    if contrastStrength > 0, contrastPromptTokens.isEmpty {
      throw EngineError.invalidParameter(
        name: "contrast_strength",
        reason: "context-aware decoding needs the prompt without the sources (contrastPromptTokens)"
      )
    }
    guard noRepeatNGramSize >= 0 else {
      throw EngineError.invalidParameter(
        name: "no_repeat_ngram_size",
        reason: "must be at least 0, got \(noRepeatNGramSize)"
      )
    }
    guard maxSentences >= 0 else {
      throw EngineError.invalidParameter(
        name: "max_sentences",
        reason: "must be at least 0, got \(maxSentences)"
      )
    }
    for source in sources where !(source.weight >= 0 && source.weight <= 1) {
      throw EngineError.invalidParameter(
        name: "source weight",
        reason: "must be in 0...1, got \(source.weight)"
      )
    }
    if let vocabularySize {
      for id in sources.lazy.flatMap(\.tokens) + contrastPromptTokens where id < 0 || id >= vocabularySize {
        throw EngineError.tokenOutOfRange(id: id, vocabularySize: vocabularySize)
      }
    }
  }
}
