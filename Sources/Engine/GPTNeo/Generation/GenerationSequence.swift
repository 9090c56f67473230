import Foundation

/// One generation in progress: what to feed the model next, and what to do with the logits that
/// come back (sampling, end of text, stop strings, streaming text). ``TextGenerator`` drives one
/// on the calling thread; ``BatchedGenerator`` drives many in one forward pass per step.
struct GenerationSequence {
  let parameters: GenerationParameters
  let promptTokens: [Int]
  let cache: KVCache
  private let eos: Int?
  private let budget: Int
  private let contextLimit: Int
  private var sampler: TokenSampler
  private var decoder: StreamingDecoder
  private var stops: StopSequenceMatcher
  private var context: [Int]
  private(set) var generated: [Int] = []
  /// Prompt tokens not yet fed, then the last sampled token.
  private var pending: ArraySlice<Int>
  private(set) var finishReason: FinishReason?
  private let clock = ContinuousClock()
  private let started: ContinuousClock.Instant
  private var promptDuration: Duration?

  init(
    model: GPTNeoModel,
    tokenizer: GPT2Tokenizer,
    promptTokens: [Int],
    parameters: GenerationParameters
  ) throws {
    try parameters.validate()
    let config = model.configuration
    // An empty prompt starts from <|endoftext|>, as GPT-2's unconditional samples do.
    let start = promptTokens.isEmpty ? [config.bosTokenId ?? tokenizer.endOfTextTokenId ?? 0] : promptTokens
    guard start.count <= config.maxPositionEmbeddings else {
      throw EngineError.contextOverflow(tokens: start.count, limit: config.maxPositionEmbeddings)
    }
    for id in start where id < 0 || id >= config.vocabSize {
      throw EngineError.tokenOutOfRange(id: id, vocabularySize: config.vocabSize)
    }
    self.parameters = parameters
    self.promptTokens = promptTokens
    eos = config.eosTokenId ?? tokenizer.endOfTextTokenId
    budget = min(parameters.maxNewTokens, config.maxPositionEmbeddings - start.count + 1)
    contextLimit = config.maxPositionEmbeddings
    cache = model.makeCache(capacity: min(config.maxPositionEmbeddings, start.count + budget))
    sampler = TokenSampler(parameters: parameters)
    decoder = tokenizer.makeStreamingDecoder()
    stops = StopSequenceMatcher(parameters.stopSequences)
    context = start
    pending = start[...]
    started = clock.now
  }

  var isFinished: Bool { finishReason != nil }

  /// Tokens waiting to be fed: the rest of the prompt, or 1 (the last sampled token).
  var pendingCount: Int { pending.count }

  /// The next tokens to run: up to `limit` of the prompt, or the last sampled token.
  func input(limit: Int = .max) -> [Int] { Array(pending.prefix(max(1, limit))) }

  /// Records that `count` tokens of ``input(limit:)`` went through the model. Returns whether the
  /// logits of the last one are wanted (the prompt is fully fed).
  mutating func consumed(_ count: Int) -> Bool {
    pending = pending.dropFirst(count)
    return pending.isEmpty
  }

  /// Samples the next token from the logits of the last fed position and returns the events it
  /// produces (text, and a final `.finished` when the generation ends).
  mutating func accept(logits: inout [Float]) -> [GenerationEvent] {
    if promptDuration == nil { promptDuration = clock.now - started }
    let id = sampler.next(logits: &logits, context: context)
    generated.append(id)
    context.append(id)
    var events: [GenerationEvent] = []
    if parameters.stopAtEndOfText, id == eos {
      events.append(.token(id: id, text: ""))
      return events + finish(.endOfText)
    }
    switch stops.append(decoder.append(id)) {
    case .emit(let text):
      events.append(.token(id: id, text: text))
    case .stop(let text):
      events.append(.token(id: id, text: text))
      return events + finish(.stopSequence)
    }
    if generated.count >= budget || cache.count >= contextLimit { return events + finish(.length) }
    pending = [id][...]
    return events
  }

  /// Ends the generation (`.cancelled`, or after a stop condition) and returns the closing events.
  mutating func finish(_ reason: FinishReason) -> [GenerationEvent] {
    guard finishReason == nil else { return [] }
    var reason = reason
    var events: [GenerationEvent] = []
    if reason != .stopSequence {
      // Bytes of an unfinished character, and text held back for a stop string that never came.
      var rest: String
      switch stops.append(decoder.finish()) {
      case .emit(let s): rest = s
      case .stop(let s):
        rest = s
        reason = .stopSequence
      }
      if reason != .stopSequence { rest += stops.flush() }
      if !rest.isEmpty { events.append(.token(id: -1, text: rest)) }
    }
    finishReason = reason
    let total = clock.now - started
    let prompt = promptDuration ?? total
    events.append(
      .finished(
        GenerationResult(
          promptTokenIds: promptTokens,
          tokenIds: generated,
          text: stops.fullText,
          finishReason: reason,
          promptSeconds: prompt.seconds,
          generationSeconds: (total - prompt).seconds
        )
      )
    )
    return events
  }
}
