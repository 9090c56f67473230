import Curriculum
import Foundation
import Synchronization
import Testing

@testable import Tutoring

@Suite struct GenerationSchedulerTests {
  /// A gate the test opens to let running bodies finish: waiters suspend on a continuation until
  /// `open()`, with no polling.
  final class Gate: Sendable {
    private let state = Mutex((opened: false, waiters: [CheckedContinuation<Void, Never>]()))
    func open() {
      let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
        s.opened = true
        defer { s.waiters.removeAll() }
        return s.waiters
      }
      for waiter in waiters { waiter.resume() }
    }
    func wait() async {
      await withCheckedContinuation { continuation in
        let resumeNow = state.withLock { s -> Bool in
          if s.opened { return true }
          s.waiters.append(continuation)
          return false
        }
        if resumeNow { continuation.resume() }
      }
    }
  }

  /// Waits until `condition` holds (the scheduler's state, changed by other tasks), failing the
  /// test after 10 seconds instead of hanging it.
  static func until(_ condition: () -> Bool, _ what: String) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
      guard ContinuousClock.now < deadline else {
        Issue.record("timed out waiting until \(what)")
        throw CancellationError()
      }
      try await Task.sleep(for: .milliseconds(2))
    }
  }

  /// A value shared with tasks.
  final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func update<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { value.withLock(body) }
  }

  @Test func admitsUpToTheLimitQueuesThenRefuses() async throws {
    let scheduler = GenerationScheduler(maxConcurrent: 2, maxQueued: 1)
    let gate = Gate()
    let peak = Shared((now: 0, max: 0))
    let tasks = (0 ..< 3).map { _ in
      Task {
        try await scheduler.withSlot {
          peak.update {
            $0.now += 1
            $0.max = max($0.max, $0.now)
          }
          await gate.wait()
          peak.update { $0.now -= 1 }
        }
      }
    }
    // Two run, one waits.
    try await Self.until({ scheduler.load == (2, 1) }, "two run and one waits")
    // A fourth is refused at once with a message that says why.
    await #expect(throws: TutoringError.self) { try await scheduler.withSlot {} }
    do {
      try await scheduler.withSlot {}
    } catch let error as TutoringError {
      guard case .resourceExhausted(let message) = error else {
        Issue.record("expected resourceExhausted, got \(error)")
        return
      }
      #expect(message.contains("2 generations running and 1 waiting"))
    }
    gate.open()
    for task in tasks { try await task.value }
    #expect(peak.update { $0.max } == 2)
    #expect(scheduler.load == (0, 0))
  }

  @Test func aCancelledWaiterLeavesTheQueue() async throws {
    let scheduler = GenerationScheduler(maxConcurrent: 1, maxQueued: 4)
    let gate = Gate()
    let running = Task { try await scheduler.withSlot { await gate.wait() } }
    try await Self.until({ scheduler.load.running == 1 }, "one runs")
    let ran = Shared(false)
    let waiting = Task { try await scheduler.withSlot { ran.update { $0 = true } } }
    try await Self.until({ scheduler.load.queued == 1 }, "one waits")
    waiting.cancel()
    await #expect(throws: CancellationError.self) { try await waiting.value }
    #expect(scheduler.load == (1, 0))
    gate.open()
    try await running.value
    #expect(!ran.update { $0 })
    #expect(scheduler.load == (0, 0))
    // The slot is free again.
    try await scheduler.withSlot {}
  }
}

@Suite struct KnowledgeTracingTests {
  let p: MasteryParameters = {
    var p = MasteryParameters()
    p.pInit = 0.3
    p.pLearn = 0.1
    p.pGuess = 0.2
    p.pSlip = 0.1
    return p
  }()

  @Test func firstCorrectAnswerFromThePrior() {
    // P(L|correct) = 0.3·0.9 / (0.3·0.9 + 0.7·0.2) = 0.27 / 0.41; then + (1 − ·)·0.1.
    let posterior = 0.27 / 0.41
    let expected = posterior + (1 - posterior) * 0.1
    #expect(abs(KnowledgeTracing.update(prior: nil, correct: true, parameters: p) - expected) < 1e-12)
  }

  @Test func wrongAnswerLowersTheEstimate() {
    // P(L|wrong) = 0.6·0.1 / (0.6·0.1 + 0.4·0.8) = 0.06 / 0.38.
    let posterior = 0.06 / 0.38
    let expected = posterior + (1 - posterior) * 0.1
    let next = KnowledgeTracing.update(prior: 0.6, correct: false, parameters: p)
    #expect(abs(next - expected) < 1e-12)
    #expect(next < 0.6)
  }

  @Test func repeatedCorrectAnswersReachMastery() {
    var estimate: Double?
    var steps = 0
    while (estimate ?? 0) < p.threshold {
      estimate = KnowledgeTracing.update(prior: estimate, correct: true, parameters: p)
      steps += 1
    }
    // By hand: 0.3 → 0.6927 → 0.9193 → 0.9828.
    #expect(steps == 3)
    #expect(abs(estimate! - 0.98280) < 1e-4)
    #expect(estimate! <= 1)
  }
}
