import Engine
import Foundation
import Metrics

/// The language model as the tutoring core uses it: a loaded GPT-Neo checkpoint and its tokenizer.
/// Generations run together through continuous batching (``BatchedGenerator``, on the engine's own
/// threads, never the caller's); a ``GenerationScheduler`` in front admits as many as the batch
/// holds and queues (or refuses) the rest.
public final class TutorModel: Sendable {
  public let generator: TextGenerator
  public let batcher: BatchedGenerator
  public let scheduler: GenerationScheduler
  /// The checkpoint folder's name.
  public let name: String

  public var model: GPTNeoModel { generator.model }
  public var tokenizer: GPT2Tokenizer { generator.tokenizer }
  public var contextLength: Int { model.configuration.maxPositionEmbeddings }

  /// - Parameter prefixCacheBytes: memory for the keys and values of prompt prefixes shared
  ///   across generations (``PrefixCache``); nil: ``PrefixCache/defaultBudget(for:)``; 0: none.
  /// - Parameter promptLookupTokens: the longest draft of prompt-lookup decoding
  ///   (``BatchedGenerator/PromptLookup``); 0: off.
  public init(
    generator: TextGenerator,
    name: String,
    scheduler: GenerationScheduler,
    prefixCacheBytes: Int? = nil,
    promptLookupTokens: Int = 0
  ) {
    self.generator = generator
    self.name = name
    self.scheduler = scheduler
    let budget = prefixCacheBytes ?? PrefixCache.defaultBudget(for: generator.model)
    batcher = BatchedGenerator(
      generator: generator,
      maxBatchSize: scheduler.maxConcurrent,
      prefixCache: budget > 0 ? PrefixCache(model: generator.model, budgetBytes: budget) : nil,
      promptLookup: promptLookupTokens > 0 ? .init(draftTokens: promptLookupTokens) : nil
    )
  }

  /// What the shared prefix cache holds and has saved (nil when it is off).
  public var prefixCacheStatistics: PrefixCache.Statistics? { batcher.prefixCache?.statistics }

  /// Stops the engine's worker; generations still running end as cancelled.
  public func shutdown() { batcher.stop() }

  /// Loads the checkpoint in `directory` (config.json, safetensors, tokenizer).
  public static func load(
    directory: URL,
    threads: Int? = nil,
    weightFormat: WeightFormat = .float32,
    kvCacheFormat: KVCacheFormat = .float32,
    maxConcurrentGenerations: Int = 8,
    maxQueuedGenerations: Int = 32,
    prefixCacheBytes: Int? = nil,
    promptLookupTokens: Int = 0,
    packedWeightsDirectory: URL? = nil
  ) throws -> TutorModel {
    let model = try GPTNeoModel.load(
      directory: directory,
      options: .init(
        threads: threads,
        weightFormat: weightFormat,
        kvCacheFormat: kvCacheFormat,
        packedWeightsDirectory: packedWeightsDirectory
      )
    )
    let tokenizer = try GPT2Tokenizer.load(directory: directory)
    return TutorModel(
      generator: TextGenerator(model: model, tokenizer: tokenizer),
      name: directory.standardizedFileURL.lastPathComponent,
      scheduler: GenerationScheduler(
        maxConcurrent: maxConcurrentGenerations,
        maxQueued: maxQueuedGenerations
      ),
      prefixCacheBytes: prefixCacheBytes,
      promptLookupTokens: promptLookupTokens
    )
  }

  /// Token count of `text` as the model sees it (special-token text counts as plain text).
  public func countTokens(_ text: String) -> Int { tokenizer.encode(text, allowSpecialTokens: false).count }

  /// What a generation produced, including one that was cancelled part-way.
  public struct Outcome: Sendable {
    public var promptTokenIds: [Int]
    public var tokenIds: [Int]
    public var text: String
    public var finishReason: FinishReason
    /// From the call to the last token.
    public var elapsed: Duration
  }

  /// Runs `body` once the scheduler has a free generation slot.
  /// - Throws: ``TutoringError/resourceExhausted(_:)`` when the queue is full.
  public func withGenerationSlot<T: Sendable>(_ body: () async throws -> T) async throws -> T {
    try await scheduler.withSlot(body)
  }

  /// Generates from `promptTokens` through the batching engine, calling `onText` with each piece of
  /// new text and the token ids that completed it. Call inside ``withGenerationSlot(_:)``.
  ///
  /// When the calling task is cancelled, or `onText` throws (the client went away), generation
  /// leaves the batch before its next step and the outcome says `.cancelled`, with what was generated.
  /// - Throws: engine errors (``EngineError``).
  public func generate(
    promptTokens: [Int],
    parameters: GenerationParameters,
    onText: (String, [Int]) async throws -> Void
  ) async throws -> Outcome {
    let clock = ContinuousClock()
    let start = clock.now
    var ids: [Int] = []
    var text = ""
    var pendingIds: [Int] = []
    let stream = batcher.stream(promptTokens: promptTokens, parameters: parameters)
    // Operator metrics: time to first token, and every token generated (their rate is the
    // server's throughput).
    defer {
      Counter(label: "tutor_generated_tokens_total").increment(by: ids.count)
      if let stats = prefixCacheStatistics {
        Gauge(label: "tutor_prefix_cache_bytes").record(stats.bytes)
        Gauge(label: "tutor_prefix_cache_reused_tokens").record(stats.reusedTokens)
        Gauge(label: "tutor_prefix_cache_prompt_tokens").record(stats.promptTokens)
      }
      // The engine's running totals: rows computed in how many steps, and prompt lookup's drafts.
      let engine = batcher.statistics
      Gauge(label: "tutor_engine_steps").record(engine.steps)
      Gauge(label: "tutor_engine_rows").record(engine.rows)
      if batcher.promptLookup != nil {
        Gauge(label: "tutor_prompt_lookup_drafted_tokens").record(engine.drafted)
        Gauge(label: "tutor_prompt_lookup_accepted_tokens").record(engine.accepted)
      }
    }
    do {
      for try await event in stream {
        switch event {
        case .token(let id, let piece):
          if ids.isEmpty, id >= 0 {
            Metrics.Timer(label: "tutor_time_to_first_token_seconds").record(duration: clock.now - start)
          }
          if id >= 0 {
            ids.append(id)
            pendingIds.append(id)
          }
          if !piece.isEmpty {
            text += piece
            try await onText(piece, pendingIds)
            pendingIds.removeAll()
          }
        case .finished(let result):
          ids = result.tokenIds
          return Outcome(
            promptTokenIds: result.promptTokenIds,
            tokenIds: result.tokenIds,
            text: result.text,
            finishReason: result.finishReason,
            elapsed: clock.now - start
          )
        }
      }
    } catch let error as EngineError {
      throw error
    } catch {
      // The consumer failed or was cancelled: leaving the loop cancels the generation thread.
    }
    return Outcome(
      promptTokenIds: promptTokens,
      tokenIds: ids,
      text: text,
      finishReason: .cancelled,
      elapsed: clock.now - start
    )
  }
}
