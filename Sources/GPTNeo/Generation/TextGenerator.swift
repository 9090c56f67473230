import Foundation
import Synchronization

/// Generates text with a GPT-Neo model and its tokenizer: synchronously, or streamed token by token
/// through an `AsyncSequence` whose cancellation stops the computation at once.
///
/// ```swift
/// let generator = TextGenerator(model: model, tokenizer: tokenizer)
/// for try await event in generator.stream(prompt: "Photosynthesis is", parameters: .init(maxNewTokens: 40)) {
///   if case .token(_, let text) = event { print(text, terminator: "") }
/// }
/// ```
public final class TextGenerator: Sendable {
  public let model: GPTNeoModel
  public let tokenizer: GPT2Tokenizer

  public init(model: GPTNeoModel, tokenizer: GPT2Tokenizer) {
    self.model = model
    self.tokenizer = tokenizer
  }

  /// Prompt ids for `prompt` (special tokens in it are honoured, as `transformers` does).
  public func encode(prompt: String) -> [Int] { tokenizer.encode(prompt) }

  /// Generates on the calling thread. `onEvent` sees every token as it is produced;
  /// `isCancelled` is polled between tokens and between layers.
  public func generate(
    promptTokens: [Int],
    parameters: GenerationParameters,
    isCancelled: @escaping () -> Bool = { false },
    onEvent: (GenerationEvent) -> Void = { _ in }
  ) throws -> GenerationResult {
    try parameters.validate()
    let config = model.configuration
    // An empty prompt starts from <|endoftext|>, as GPT-2's unconditional samples do.
    let start = promptTokens.isEmpty ? [config.bosTokenId ?? tokenizer.endOfTextTokenId ?? 0] : promptTokens
    guard start.count <= config.maxPositionEmbeddings else {
      throw GPTNeoError.contextOverflow(tokens: start.count, limit: config.maxPositionEmbeddings)
    }
    let eos = config.eosTokenId ?? tokenizer.endOfTextTokenId
    let budget = min(parameters.maxNewTokens, config.maxPositionEmbeddings - start.count + 1)
    let cache = model.makeCache(capacity: min(config.maxPositionEmbeddings, start.count + budget))
    var sampler = TokenSampler(parameters: parameters)
    var decoder = tokenizer.makeStreamingDecoder()
    var stops = StopSequenceMatcher(parameters.stopSequences)
    var context = start
    var generated: [Int] = []
    var finish = FinishReason.length
    let clock = ContinuousClock()
    let t0 = clock.now
    var promptDuration = Duration.zero

    var next = start[...]
    loop: while generated.count < budget {
      if isCancelled() {
        finish = .cancelled
        break
      }
      let hidden: [Float]
      do {
        hidden = try model.forward(tokens: next, cache: cache, isCancelled: isCancelled)
      } catch is CancellationError {
        finish = .cancelled
        break
      }
      if generated.isEmpty { promptDuration = clock.now - t0 }
      var logits = model.logits(hidden: hidden, row: next.count - 1)
      let id = sampler.next(logits: &logits, context: context)
      generated.append(id)
      context.append(id)
      if parameters.stopAtEndOfText, id == eos {
        finish = .endOfText
        onEvent(.token(id: id, text: ""))
        break
      }
      switch stops.append(decoder.append(id)) {
      case .emit(let text):
        onEvent(.token(id: id, text: text))
      case .stop(let text):
        onEvent(.token(id: id, text: text))
        finish = .stopSequence
        break loop
      }
      guard cache.count < config.maxPositionEmbeddings else { break }
      next = [id][...]
    }
    if finish != .stopSequence {
      // Bytes of an unfinished character, and text held back for a stop string that never came.
      let tail = stops.append(decoder.finish())
      var rest: String
      switch tail {
      case .emit(let s): rest = s
      case .stop(let s):
        rest = s
        finish = .stopSequence
      }
      if finish != .stopSequence { rest += stops.flush() }
      if !rest.isEmpty { onEvent(.token(id: -1, text: rest)) }
    }
    let total = clock.now - t0
    let result = GenerationResult(
      promptTokenIds: promptTokens,
      tokenIds: generated,
      text: stops.fullText,
      finishReason: finish,
      promptSeconds: promptDuration.seconds,
      generationSeconds: (total - promptDuration).seconds
    )
    onEvent(.finished(result))
    return result
  }

  /// Tokenizes `prompt` and generates.
  public func generate(prompt: String, parameters: GenerationParameters) throws -> GenerationResult {
    try generate(promptTokens: encode(prompt: prompt), parameters: parameters)
  }

  /// Streams a generation. The work runs on a thread of its own (never on Swift's cooperative
  /// pool); when the consumer stops iterating or its task is cancelled, the computation stops
  /// before the next layer.
  public func stream(
    promptTokens: [Int],
    parameters: GenerationParameters
  ) -> AsyncThrowingStream<GenerationEvent, any Error> {
    let (stream, continuation) = AsyncThrowingStream.makeStream(
      of: GenerationEvent.self,
      throwing: (any Error).self,
      bufferingPolicy: .unbounded
    )
    let cancelled = CancellationFlag()
    continuation.onTermination = { _ in cancelled.cancel() }
    let thread = Thread { [self] in
      do {
        _ = try generate(
          promptTokens: promptTokens,
          parameters: parameters,
          isCancelled: { cancelled.isCancelled },
          onEvent: { continuation.yield($0) }
        )
        continuation.finish()
      } catch {
        continuation.finish(throwing: error)
      }
    }
    thread.name = "gptneo-generate"
    thread.start()
    return stream
  }

  /// Streams a generation for a text prompt.
  public func stream(
    prompt: String,
    parameters: GenerationParameters
  ) -> AsyncThrowingStream<GenerationEvent, any Error> {
    stream(promptTokens: encode(prompt: prompt), parameters: parameters)
  }
}

/// A one-way flag set when a stream's consumer goes away.
final class CancellationFlag: Sendable {
  private let flag = Atomic<Bool>(false)
  func cancel() { flag.store(true, ordering: .relaxed) }
  var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

extension Duration {
  var seconds: Double {
    let (s, atto) = components
    return Double(s) + Double(atto) * 1e-18
  }
}
