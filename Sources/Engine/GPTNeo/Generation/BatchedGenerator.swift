import Foundation
import Synchronization

/// Continuous batching: many generations share each forward pass, so each weight is read once per
/// step for all of them instead of once per generation.
///
/// One worker thread runs steps. Before every step it admits waiting requests (up to
/// `maxBatchSize` in the batch) and drops those whose consumer went away; a request joins at the
/// next step and leaves as soon as it finishes, so nobody waits for the slowest. A long prompt is
/// fed in chunks of `prefillChunk` tokens, so the others keep receiving tokens while it is read,
/// and a step computes at most `stepTokenLimit` rows: decoding sequences first (one row each), then
/// prompt chunks in order of arrival. That bounds both the pause a step makes in everyone's
/// stream and the activation memory a step needs, however many long prompts arrive at once.
///
/// With a ``PrefixCache``, a sequence joining the batch starts from the cached keys and values of
/// the longest prefix of its prompt that an earlier sequence computed, and adds what it computes.
///
/// Each sequence's tokens are exactly those ``TextGenerator`` produces for it alone: a row's
/// arithmetic does not depend on the other rows of its batch, nor on where its prefix came from.
public final class BatchedGenerator: Sendable {
  public let generator: TextGenerator
  public let maxBatchSize: Int
  public let prefillChunk: Int
  public let stepTokenLimit: Int
  /// Prompt prefixes shared across sequences (nil: every prompt is computed whole).
  public let prefixCache: PrefixCache?
  /// Speculative decoding with drafts from the context (nil: one token per step).
  public let promptLookup: PromptLookup?

  /// Prompt-lookup decoding (Saxena 2023; transformers' `prompt_lookup_num_tokens`): a decoding
  /// sequence drafts the tokens that followed the latest earlier occurrence of its last few tokens
  /// in its prompt or answer — answers quote the notes — and one pass verifies the whole draft,
  /// since a weight read once serves every row. The picks are made exactly as one-at-a-time
  /// decoding makes them (``GenerationSequence/accept(logits:vocabulary:draft:)``), so greedy and
  /// seeded sampling give the same tokens with it as without; a sequence with context-aware
  /// decoding does not draft.
  public struct PromptLookup: Sendable, Equatable {
    /// The longest draft the engine supports (local layers' rings keep this much room).
    public static let maxDraft = 16
    /// Most tokens one draft holds; a sequence's draft grows by 2 after a fully accepted draft and
    /// shrinks by 1 after a miss, within 1...draftTokens.
    public var draftTokens: Int
    /// The longest n-gram matched (down to 2).
    public var ngram: Int
    /// Rows of a step that drafts may take in all, shared by the decoding sequences: with many
    /// sequences decoding, the step is already compute-bound and drafts would only cost.
    public var stepRows: Int

    public init(draftTokens: Int = 8, ngram: Int = 3, stepRows: Int = 16) {
      self.draftTokens = min(max(draftTokens, 1), Self.maxDraft)
      self.ngram = max(ngram, 2)
      self.stepRows = max(stepRows, 2)
    }
  }

  private final class Request: Sendable {
    let promptTokens: [Int]
    let parameters: GenerationParameters
    let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    let cancelled = CancellationFlag()

    init(
      promptTokens: [Int],
      parameters: GenerationParameters,
      continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    ) {
      self.promptTokens = promptTokens
      self.parameters = parameters
      self.continuation = continuation
    }
  }

  private struct Queue {
    var waiting: [Request] = []
    var running = 0
    var stopped = false
  }

  private let queue = Mutex(Queue())
  private let wakeUp = DispatchSemaphore(value: 0)
  /// Steps run and rows computed, for benchmarks and tests.
  private let counters = Mutex(Statistics())

  /// What the worker has done so far.
  public struct Statistics: Sendable, Equatable {
    /// Steps run, rows (tokens) computed, and the largest batch seen.
    public var steps = 0
    public var rows = 0
    public var maxBatch = 0
    /// Draft tokens fed by prompt lookup, and those accepted.
    public var drafted = 0
    public var accepted = 0
  }

  public init(
    generator: TextGenerator,
    maxBatchSize: Int = 8,
    prefillChunk: Int = 128,
    stepTokenLimit: Int = 256,
    prefixCache: PrefixCache? = nil,
    promptLookup: PromptLookup? = nil
  ) {
    precondition(maxBatchSize > 0 && prefillChunk > 0 && stepTokenLimit > 0)
    self.generator = generator
    self.prefixCache = prefixCache
    self.promptLookup = promptLookup
    self.maxBatchSize = maxBatchSize
    self.prefillChunk = prefillChunk
    self.stepTokenLimit = stepTokenLimit
    let thread = Thread { [self] in run() }
    thread.name = "gptneo-batch"
    thread.start()
  }

  /// Stops the worker after the current step; requests still waiting or running end with
  /// `CancellationError`. For tests and shutdown; the generator is unusable afterwards.
  public func stop() {
    queue.withLock { $0.stopped = true }
    wakeUp.signal()
  }

  /// Steps run so far, rows (tokens) computed, the largest batch seen, and drafts.
  public var statistics: Statistics { counters.withLock { $0 } }

  /// Streams one generation; it joins the batch at the next step. Ending the iteration (or
  /// cancelling its task) removes it from the batch before the next step.
  public func stream(
    promptTokens: [Int],
    parameters: GenerationParameters
  ) -> AsyncThrowingStream<GenerationEvent, any Error> {
    let (stream, continuation) = AsyncThrowingStream.makeStream(
      of: GenerationEvent.self,
      throwing: (any Error).self,
      bufferingPolicy: .unbounded
    )
    let request = Request(promptTokens: promptTokens, parameters: parameters, continuation: continuation)
    continuation.onTermination = { [weak self] _ in
      request.cancelled.cancel()
      self?.wakeUp.signal()
    }
    let accepted = queue.withLock { q -> Bool in
      guard !q.stopped else { return false }
      q.waiting.append(request)
      return true
    }
    if accepted {
      wakeUp.signal()
    } else {
      continuation.finish(throwing: CancellationError())
    }
    return stream
  }

  private struct Active {
    let request: Request
    var sequence: GenerationSequence
    /// The sequence's (and its contrast sequence's) place in the prefix cache.
    var cursor: PrefixCache.Cursor?
    var contrastCursor: PrefixCache.Cursor?
    /// The length of this sequence's next draft.
    var draftLength: Int
    /// Drafts rejected outright in a row, and steps left before the next draft: text that does
    /// not repeat its context costs nothing for long.
    var misses = 0
    var cooldown = 0
  }

  private func run() {
    let model = generator.model
    var active: [Active] = []
    while true {
      // Admit, and drop the abandoned.
      let (admitted, stopped) = queue.withLock { q -> ([Request], Bool) in
        q.waiting.removeAll { $0.cancelled.isCancelled }
        let room = max(0, maxBatchSize - active.count)
        let taken = Array(q.waiting.prefix(room))
        q.waiting.removeFirst(taken.count)
        return (taken, q.stopped)
      }
      if stopped {
        for a in active { a.request.continuation.finish(throwing: CancellationError()) }
        let left = queue.withLock { q -> [Request] in
          defer { q.waiting.removeAll() }
          return q.waiting
        }
        for r in left + admitted { r.continuation.finish(throwing: CancellationError()) }
        return
      }
      for request in admitted {
        do {
          var sequence = try GenerationSequence(
            model: model,
            tokenizer: generator.tokenizer,
            promptTokens: request.promptTokens,
            parameters: request.parameters
          )
          let cursor = prefixCache?.attach(prompt: sequence.input(), cache: sequence.cache)
          var contrastCursor: PrefixCache.Cursor?
          if let prefixCache, let cache = sequence.contrastCache {
            contrastCursor = prefixCache.attach(prompt: sequence.contrastInput(), cache: cache)
          }
          sequence.skipPrompt(cursor?.fed.count ?? 0, contrast: contrastCursor?.fed.count ?? 0)
          active.append(
            Active(
              request: request,
              sequence: sequence,
              cursor: cursor,
              contrastCursor: contrastCursor,
              draftLength: promptLookup?.draftTokens ?? 0
            )
          )
        } catch {
          request.continuation.finish(throwing: error)
        }
      }
      active.removeAll { $0.request.cancelled.isCancelled }
      if active.isEmpty {
        wakeUp.wait()
        continue
      }

      // One step: the last token of every decoding sequence, and prompt chunks while rows remain.
      // With context-aware decoding a sequence feeds two entries (its contrast sequence too).
      var inputs = stepInputs(active.map(\.sequence))
      // Prompt lookup: a decoding sequence also feeds the tokens it drafts, its share of the
      // step's speculation rows.
      var drafts = [[Int]](repeating: [], count: active.count)
      if let promptLookup {
        let decoding = inputs.indices.filter { active[$0].sequence.pendingCount == 1 }
        let share = decoding.isEmpty ? 0 : promptLookup.stepRows / decoding.count - 1
        for i in decoding where share > 0 {
          if active[i].cooldown > 0 {
            active[i].cooldown -= 1
            continue
          }
          let limit = min(share, active[i].draftLength)
          drafts[i] = active[i].sequence.draft(limit: limit, ngram: promptLookup.ngram)
          inputs[i].main += drafts[i]
        }
      }
      var batch: [(tokens: [Int], cache: KVCache)] = []
      for (i, input) in inputs.enumerated() {
        if !input.main.isEmpty { batch.append((input.main, active[i].sequence.cache)) }
        if !input.contrast.isEmpty, let cache = active[i].sequence.contrastCache {
          batch.append((input.contrast, cache))
        }
      }
      let hidden: [Float]
      do {
        hidden = try model.forward(batch: batch)
      } catch {
        for a in active { a.request.continuation.finish(throwing: error) }
        active.removeAll()
        continue
      }
      // The rows whose logits are wanted: a sequence's last fed row, or with a draft its last
      // token's row and every draft token's.
      var rows: [Int] = []
      var contrastRows: [Int?] = []
      var wanting: [Int] = []
      var row = 0
      for (i, input) in inputs.enumerated() where !input.main.isEmpty || !input.contrast.isEmpty {
        row += input.main.count
        let mainLast = row - 1
        row += input.contrast.count
        let fed = input.main.count - drafts[i].count
        if active[i].sequence.consumed(fed, contrast: input.contrast.count) {
          rows += (mainLast - drafts[i].count) ... mainLast
          contrastRows.append(input.contrast.isEmpty ? nil : row - 1)
          wanting.append(i)
        }
      }
      counters.withLock {
        $0.steps += 1
        $0.rows += row
        $0.maxBatch = max($0.maxBatch, active.count)
        $0.drafted += drafts.reduce(0) { $0 + $1.count }
      }
      var accepted = [Int](repeating: 0, count: active.count)
      if !rows.isEmpty {
        let vocabulary = model.configuration.vocabSize
        let extra = contrastRows.compactMap { $0 }
        let logits = model.logits(hidden: hidden, rowIndices: rows + extra)
        var next = 0
        var nextExtra = rows.count
        for (n, i) in wanting.enumerated() {
          let events: [GenerationEvent]
          if drafts[i].isEmpty {
            var own = Array(logits[next * vocabulary ..< (next + 1) * vocabulary])
            var contrast: [Float]?
            if contrastRows[n] != nil {
              contrast = Array(logits[nextExtra * vocabulary ..< (nextExtra + 1) * vocabulary])
              nextExtra += 1
            }
            events = active[i].sequence.accept(logits: &own, contrastLogits: contrast)
            next += 1
          } else {
            let count = drafts[i].count + 1
            let result = active[i].sequence.accept(
              logits: Array(logits[next * vocabulary ..< (next + count) * vocabulary]),
              vocabulary: vocabulary,
              draft: drafts[i]
            )
            events = result.events
            accepted[i] = result.accepted
            next += count
            // As transformers' assistant heuristic: longer after a full hit, shorter after a miss.
            active[i].draftLength =
              result.accepted == drafts[i].count
              ? min(active[i].draftLength + 2, promptLookup?.draftTokens ?? 0)
              : max(1, active[i].draftLength - 1)
            // After a draft rejected outright, wait 1, 2, 4 … (at most 32) steps before the next.
            active[i].misses = result.accepted == 0 ? active[i].misses + 1 : 0
            active[i].cooldown = result.accepted == 0 ? 1 << min(active[i].misses - 1, 5) : 0
          }
          for event in events { active[i].request.continuation.yield(event) }
          if active[i].sequence.isFinished { active[i].request.continuation.finish() }
        }
        let acceptedTotal = accepted.reduce(0, +)
        if acceptedTotal > 0 { counters.withLock { $0.accepted += acceptedTotal } }
      }
      // What this step computed joins the prefix cache — after the tokens went out, so that
      // copying never delays them, and before the next step can overwrite a local layer's ring.
      // A rejected draft's rows are not part of the sequence.
      if let prefixCache {
        for (i, input) in inputs.enumerated() {
          if let cursor = active[i].cursor, !input.main.isEmpty {
            let kept = input.main.count - drafts[i].count + accepted[i]
            prefixCache.advance(cursor, fed: Array(input.main.prefix(kept)), cache: active[i].sequence.cache)
          }
          if let cursor = active[i].contrastCursor, !input.contrast.isEmpty,
            let cache = active[i].sequence.contrastCache
          {
            prefixCache.advance(cursor, fed: input.contrast, cache: cache)
          }
        }
      }
      active.removeAll { $0.sequence.isFinished }
    }
  }

  /// What each sequence feeds this step (empty: it waits): decoding sequences their token (and
  /// their contrast sequence's), then prompts get chunks of up to `prefillChunk` rows in order
  /// while the step has rows left; the first prompt in line always gets a chunk, so prompts
  /// progress even when decoding fills the step.
  private func stepInputs(_ sequences: [GenerationSequence]) -> [(main: [Int], contrast: [Int])] {
    var left =
      stepTokenLimit - sequences.reduce(0) { $0 + ($1.pendingCount == 1 ? ($1.hasContrast ? 2 : 1) : 0) }
    var prefilled = false
    return sequences.map { sequence in
      if sequence.pendingCount == 1 { return sequence.plan(rows: 2) }
      let rows = prefilled ? min(prefillChunk, left) : max(1, min(prefillChunk, left))
      guard rows > 0 else { return ([], []) }
      prefilled = true
      let planned = sequence.plan(rows: rows)
      left -= planned.main.count + planned.contrast.count
      return planned
    }
  }
}
