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
/// Each sequence's tokens are exactly those ``TextGenerator`` produces for it alone: a row's
/// arithmetic does not depend on the other rows of its batch.
public final class BatchedGenerator: Sendable {
  public let generator: TextGenerator
  public let maxBatchSize: Int
  public let prefillChunk: Int
  public let stepTokenLimit: Int

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
  private let counters = Mutex((steps: 0, rows: 0, maxBatch: 0))

  public init(
    generator: TextGenerator,
    maxBatchSize: Int = 8,
    prefillChunk: Int = 128,
    stepTokenLimit: Int = 256
  ) {
    precondition(maxBatchSize > 0 && prefillChunk > 0 && stepTokenLimit > 0)
    self.generator = generator
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

  /// Steps run so far, rows (tokens) computed, and the largest batch seen.
  public var statistics: (steps: Int, rows: Int, maxBatch: Int) { counters.withLock { $0 } }

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
          let sequence = try GenerationSequence(
            model: model,
            tokenizer: generator.tokenizer,
            promptTokens: request.promptTokens,
            parameters: request.parameters
          )
          active.append(Active(request: request, sequence: sequence))
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
      let inputs = stepInputs(active.map(\.sequence))
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
      var rows: [Int] = []
      var contrastRows: [Int?] = []
      var wanting: [Int] = []
      var row = 0
      for (i, input) in inputs.enumerated() where !input.main.isEmpty || !input.contrast.isEmpty {
        row += input.main.count
        let mainLast = row - 1
        row += input.contrast.count
        if active[i].sequence.consumed(input.main.count, contrast: input.contrast.count) {
          rows.append(mainLast)
          contrastRows.append(input.contrast.isEmpty ? nil : row - 1)
          wanting.append(i)
        }
      }
      counters.withLock {
        $0.steps += 1
        $0.rows += row
        $0.maxBatch = max($0.maxBatch, active.count)
      }
      if !rows.isEmpty {
        let vocabulary = model.configuration.vocabSize
        let extra = contrastRows.compactMap { $0 }
        let logits = model.logits(hidden: hidden, rowIndices: rows + extra)
        var nextExtra = rows.count
        for (n, i) in wanting.enumerated() {
          var own = Array(logits[n * vocabulary ..< (n + 1) * vocabulary])
          var contrast: [Float]?
          if contrastRows[n] != nil {
            contrast = Array(logits[nextExtra * vocabulary ..< (nextExtra + 1) * vocabulary])
            nextExtra += 1
          }
          for event in active[i].sequence.accept(logits: &own, contrastLogits: contrast) {
            active[i].request.continuation.yield(event)
          }
          if active[i].sequence.isFinished { active[i].request.continuation.finish() }
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
