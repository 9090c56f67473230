import Synchronization
import Testing
import Tutoring

@Suite struct RateLimiterTests {
  final class FakeClock: Sendable {
    let now = Mutex(0.0)
    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
  }

  @Test func aBurstThenTheRateAndCallersAreApart() {
    let clock = FakeClock()
    let limiter = RateLimiter(perSecond: 2, burst: 3, clock: { clock.now.withLock { $0 } })
    #expect((0 ..< 3).allSatisfy { _ in limiter.take("a") == nil })
    // Empty: the next call waits half a second (2 a second).
    #expect(limiter.take("a") == 0.5)
    #expect(limiter.take("b") == nil, "another caller has its own bucket")
    clock.advance(0.25)
    #expect(limiter.take("a") == 0.25)
    clock.advance(0.25)
    #expect(limiter.take("a") == nil)
    #expect(limiter.take("a") == 0.5)
    // Refills up to the burst, not beyond.
    clock.advance(100)
    #expect((0 ..< 3).allSatisfy { _ in limiter.take("a") == nil })
    #expect(limiter.take("a") != nil)
  }
}
