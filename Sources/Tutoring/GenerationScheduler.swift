import Metrics
import Synchronization

/// Admits at most `maxConcurrent` generations at once. Up to `maxQueued` more wait in arrival
/// order; beyond that a request is refused at once with ``TutoringError/resourceExhausted(_:)``
/// (back-pressure instead of an ever-growing queue). A waiting task that is cancelled leaves the
/// queue immediately.
public final class GenerationScheduler: Sendable {
  public let maxConcurrent: Int
  public let maxQueued: Int

  private struct Waiter {
    var id: UInt64
    var continuation: CheckedContinuation<Void, any Error>
  }

  private struct State {
    var running = 0
    var waiters: [Waiter] = []
    var nextId: UInt64 = 0
    /// Ids cancelled before their waiter was queued.
    var cancelledEarly: Set<UInt64> = []
  }

  private let state = Mutex(State())

  public init(maxConcurrent: Int, maxQueued: Int) {
    precondition(maxConcurrent > 0 && maxQueued >= 0)
    self.maxConcurrent = maxConcurrent
    self.maxQueued = maxQueued
  }

  /// Generations running and waiting now.
  public var load: (running: Int, queued: Int) {
    state.withLock { ($0.running, $0.waiters.count) }
  }

  /// Runs `body` once a slot is free.
  public func withSlot<T: Sendable>(_ body: () async throws -> T) async throws -> T {
    let arrived = ContinuousClock.now
    try await acquire()
    Metrics.Timer(label: "tutor_generation_queue_wait_seconds").record(duration: .now - arrived)
    reportLoad()
    defer {
      release()
      reportLoad()
    }
    return try await body()
  }

  /// Queue depth and running generations as gauges (free without a metrics backend).
  private func reportLoad() {
    let (running, queued) = load
    Gauge(label: "tutor_generations_running").record(running)
    Gauge(label: "tutor_generation_queue_depth").record(queued)
  }

  private func acquire() async throws {
    let id = state.withLock { s -> UInt64 in
      s.nextId += 1
      return s.nextId
    }
    // Whatever happened, the id is done with.
    defer { _ = state.withLock { $0.cancelledEarly.remove(id) } }
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let outcome: Result<Void, any Error>? = state.withLock { s in
          if s.cancelledEarly.remove(id) != nil { return .failure(CancellationError()) }
          if s.running < maxConcurrent {
            s.running += 1
            return .success(())
          }
          guard s.waiters.count < maxQueued else {
            return .failure(
              TutoringError.resourceExhausted(
                "the server is busy: \(s.running) generations running and \(s.waiters.count) waiting; retry later"
              )
            )
          }
          s.waiters.append(Waiter(id: id, continuation: continuation))
          return nil
        }
        if let outcome { continuation.resume(with: outcome) }
      }
    } onCancel: {
      let waiter = state.withLock { s -> Waiter? in
        if let i = s.waiters.firstIndex(where: { $0.id == id }) { return s.waiters.remove(at: i) }
        // Not queued yet (or already admitted): a later enqueue must fail.
        s.cancelledEarly.insert(id)
        return nil
      }
      waiter?.continuation.resume(throwing: CancellationError())
    }
  }

  private func release() {
    let next = state.withLock { s -> Waiter? in
      if s.waiters.isEmpty {
        s.running -= 1
        return nil
      }
      // The slot passes straight to the oldest waiter.
      return s.waiters.removeFirst()
    }
    next?.continuation.resume()
  }
}
