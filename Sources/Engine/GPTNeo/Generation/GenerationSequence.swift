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
  /// Context-aware decoding's second sequence (the prompt without the sources): its cache and
  /// the tokens it has still to be fed.
  let contrastCache: KVCache?
  private var contrastPending: ArraySlice<Int> = []
  private var copy: CopySupport?
  private let isSentenceEnd: (Int) -> Bool
  private let startsWithSpace: (Int) -> Bool
  /// The last token ended a sentence, if the next one starts with white space.
  private var sentenceMayEnd = false
  /// Whether anything needs sentence ends (copy support, a sentence limit, ending at a sentence):
  /// otherwise no token is decoded for it, and plain generation pays nothing.
  private let tracksSentences: Bool
  private var sentences = 0
  /// Text the generation must not write (nil: none).
  private let banned: BannedTextMatcher?
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
    try parameters.grounding.validate(vocabularySize: config.vocabSize)
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
    let grounding = parameters.grounding
    if grounding.contrastStrength > 0 {
      let contrast = grounding.contrastPromptTokens
      guard contrast.count <= config.maxPositionEmbeddings else {
        throw EngineError.contextOverflow(tokens: contrast.count, limit: config.maxPositionEmbeddings)
      }
      contrastCache = model.makeCache(capacity: min(config.maxPositionEmbeddings, contrast.count + budget))
      contrastPending = contrast[...]
    } else {
      contrastCache = nil
    }
    // A token ends a sentence when its text does (". ", "!", "?", a line break).
    isSentenceEnd = { id in
      let text = tokenizer.decode([id])
      guard let last = text.last(where: { $0 != " " }) else { return false }
      return last == "." || last == "!" || last == "?" || last.isNewline
    }
    startsWithSpace = { id in tokenizer.decode([id]).first?.isWhitespace ?? false }
    if grounding.copyBias > 0, !grounding.sources.isEmpty {
      copy = CopySupport(sources: grounding.sources, bias: grounding.copyBias)
    }
    tracksSentences = copy != nil || grounding.maxSentences > 0 || grounding.endAtSentenceBoundary
    banned = BannedTextMatcher(parameters.bannedText) { tokenizer.decode($0) }
    started = clock.now
  }

  var isFinished: Bool { finishReason != nil }

  /// Tokens waiting to be fed: the rest of the prompt, or 1 (the last sampled token). With
  /// context-aware decoding, the larger of the two sequences' counts.
  var pendingCount: Int { max(pending.count, contrastPending.count) }

  /// Whether context-aware decoding runs a second sequence beside this one.
  var hasContrast: Bool { contrastCache != nil }

  /// The next tokens to run: up to `limit` of the prompt, or the last sampled token (empty while
  /// the prompt is fed and only the contrast sequence has tokens left).
  func input(limit: Int = .max) -> [Int] { Array(pending.prefix(max(1, limit))) }

  /// The contrast sequence's next tokens, as ``input(limit:)``.
  func contrastInput(limit: Int = .max) -> [Int] { Array(contrastPending.prefix(max(1, limit))) }

  /// What to feed in a step of at most `rows` rows (at least one is fed, so prompts progress):
  /// the main sequence's tokens and the contrast sequence's. With context-aware decoding both
  /// prompts' last tokens go through in the same step, so the two rows whose logits are combined
  /// come out of one pass.
  func plan(rows: Int) -> (main: [Int], contrast: [Int]) {
    let rows = max(1, rows)
    guard hasContrast else { return (input(limit: rows), []) }
    let m = pending.count
    let c = contrastPending.count
    if m + c <= rows || (m <= 1 && c <= 1) {
      return (Array(pending), Array(contrastPending))
    }
    let main = min(rows, m - 1)
    let contrast = min(rows - main, c - 1)
    return (Array(pending.prefix(main)), Array(contrastPending.prefix(contrast)))
  }

  /// Skips the first `main` prompt tokens (and `contrast` of the contrast prompt), whose keys and
  /// values were loaded into the caches from a ``PrefixCache``; at least one token of each is
  /// left to feed.
  mutating func skipPrompt(_ main: Int, contrast: Int = 0) {
    precondition(main < pending.count && (contrast == 0 || contrast < contrastPending.count))
    precondition(main == cache.count && contrast == (contrastCache?.count ?? 0), "prefix not loaded")
    pending = pending.dropFirst(main)
    contrastPending = contrastPending.dropFirst(contrast)
  }

  /// Prompt-lookup drafting: up to `limit` tokens that followed the latest earlier occurrence of
  /// the context's last `n` tokens (the longest `n` from `ngram` down to 2 that occurs), capped so
  /// that the draft stays within the budget and the context. Empty when nothing matches, while the
  /// prompt is still being read, or with context-aware decoding (whose second sequence would need
  /// the draft too).
  func draft(limit: Int, ngram: Int) -> [Int] {
    let room = min(limit, budget - generated.count - 1, contextLimit - cache.count - 1)
    guard room > 0, pending.count == 1, !hasContrast, context.count > 2 else { return [] }
    let count = context.count
    for n in stride(from: min(ngram, count - 1), through: 2, by: -1) {
      let tail = context[(count - n)...]
      var start = count - n - 1
      while start >= 0 {
        if context[start ..< start + n].elementsEqual(tail) {
          let from = start + n
          return Array(context[from ..< min(from + room, count)])
        }
        start -= 1
      }
    }
    return []
  }

  /// Takes the logits of a step that fed the last token and then `draft` (`rows` × vocabulary,
  /// the last token's row first) and accepts tokens exactly as one-at-a-time decoding would: the
  /// sampler picks from row 0; while its pick equals the next draft token, that token's keys and
  /// values are already computed and the next row gives the token after it. The first pick that
  /// differs (or the pick after a fully accepted draft) becomes the next token to feed; the cache
  /// forgets the rejected rest. Each pick consumes the sampler exactly as plain decoding does, so
  /// greedy and seeded sampling give the same tokens with or without a draft.
  ///
  /// - Returns: the events, and how many draft tokens were accepted.
  mutating func accept(
    logits: [Float],
    vocabulary: Int,
    draft: [Int]
  ) -> (events: [GenerationEvent], accepted: Int) {
    let base = cache.count - draft.count
    cache.rewind(to: base)
    var events: [GenerationEvent] = []
    var accepted = 0
    for r in 0 ... draft.count {
      var row = Array(logits[r * vocabulary ..< (r + 1) * vocabulary])
      events += accept(logits: &row)
      guard !isFinished, r < draft.count, generated.last == draft[r] else { break }
      accepted += 1
      cache.rewind(to: base + accepted)
      pending = []
    }
    return (events, accepted)
  }

  /// Records that `count` tokens of ``input(limit:)`` (and `contrast` of ``contrastInput(limit:)``)
  /// went through the model. Returns whether logits are wanted: both prompts are fully fed. The
  /// rows wanted are the last fed of each sequence (each one's last row ever fed, since a
  /// sequence whose prompt is done is not fed again until a token is sampled).
  mutating func consumed(_ count: Int, contrast: Int = 0) -> Bool {
    pending = pending.dropFirst(count)
    contrastPending = contrastPending.dropFirst(contrast)
    return pending.isEmpty && contrastPending.isEmpty
  }

  /// Samples the next token from the logits of the last fed position (and, with context-aware
  /// decoding, the contrast sequence's) and returns the events it produces (text, and a final
  /// `.finished` when the generation ends).
  mutating func accept(logits: inout [Float], contrastLogits: [Float]? = nil) -> [GenerationEvent] {
    if promptDuration == nil { promptDuration = clock.now - started }
    let grounding = parameters.grounding
    if let contrastLogits, grounding.contrastStrength > 0 {
      let a = grounding.contrastStrength
      for i in logits.indices { logits[i] = (1 + a) * logits[i] - a * contrastLogits[i] }
    }
    if grounding.noRepeatNGramSize > 0 {
      // Tokens that continue a copy of a source stay allowed: the notes remain copyable.
      let copying = copy?.continuations() ?? []
      for id in NGramBlocker.banned(size: grounding.noRepeatNGramSize, generated: generated)
      where id < logits.count && !copying.contains(id) {
        logits[id] = -.infinity
      }
    }
    copy?.apply(to: &logits)
    var id = sampler.next(logits: &logits, context: context)
    if let banned {
      // A token that would write banned text is ruled out, and the sampler picks again; when
      // the model's next few choices all would, it is set on writing it, and the text stops here.
      var redraws = 0
      while banned.forbids(id, after: generated) {
        logits[id] = -.infinity
        redraws += 1
        guard redraws <= BannedText.redrawsBeforeStopping, let next = sampler.redraw(logits: logits) else {
          return finish(.stopSequence)
        }
        id = next
      }
    }
    if tracksSentences, sentenceMayEnd, id == eos || startsWithSpace(id) {
      // The sentence is over; stop before the next one when enough were written or the budget
      // is nearly spent (unless the model ends the text itself, which is reported as such).
      sentences += 1
      let nearEnd = budget - generated.count < min(Grounding.sentenceReserve, budget / 4 + 1)
      if id != eos || !parameters.stopAtEndOfText,
        (grounding.maxSentences > 0 && sentences >= grounding.maxSentences)
          || (grounding.endAtSentenceBoundary && nearEnd)
      {
        return finish(.length)
      }
    }
    sentenceMayEnd = tracksSentences && isSentenceEnd(id)
    copy?.accept(id, endsSentence: sentenceMayEnd)
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
    if hasContrast { contrastPending = [id][...] }
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
