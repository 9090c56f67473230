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
    var sequence = try GenerationSequence(
      model: model,
      tokenizer: tokenizer,
      promptTokens: promptTokens,
      parameters: parameters
    )
    var result: GenerationResult?
    func deliver(_ events: [GenerationEvent]) {
      for event in events {
        if case .finished(let r) = event { result = r }
        onEvent(event)
      }
    }
    while !sequence.isFinished {
      if isCancelled() {
        deliver(sequence.finish(.cancelled))
        break
      }
      // Context-aware decoding's second sequence runs in the same pass.
      let (input, contrast) = sequence.plan(rows: .max)
      var batch = [(tokens: input, cache: sequence.cache)]
      if let cache = sequence.contrastCache { batch.append((contrast, cache)) }
      let hidden: [Float]
      do {
        hidden = try model.forward(batch: batch, isCancelled: isCancelled)
      } catch is CancellationError {
        deliver(sequence.finish(.cancelled))
        break
      }
      _ = sequence.consumed(input.count, contrast: contrast.count)
      var logits = model.logits(hidden: hidden, row: input.count - 1)
      let contrastLogits =
        contrast.isEmpty ? nil : model.logits(hidden: hidden, row: input.count + contrast.count - 1)
      deliver(sequence.accept(logits: &logits, contrastLogits: contrastLogits))
    }
    return result!
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
