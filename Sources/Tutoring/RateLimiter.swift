import Foundation
import Synchronization

/// A token bucket per caller: `burst` calls at once, then `perSecond` a second. Callers are
/// named by a key (the student for student tokens, the token otherwise), so one noisy client
/// can't starve the others.
///
/// ```swift
/// let limiter = RateLimiter(perSecond: 5, burst: 20)
/// if let wait = limiter.take("student:s-17") { /* refuse; retry after `wait` seconds */ }
/// ```
public final class RateLimiter: Sendable {
  public let perSecond: Double
  public let burst: Double

  private struct Bucket {
    var tokens: Double
    var updated: Double
  }

  private struct State {
    var buckets: [String: Bucket] = [:]
    var lastSweep: Double = 0
  }

  private let state = Mutex(State())
  private let clock: @Sendable () -> Double

  /// - Parameter clock: seconds from any fixed origin (tests pass their own).
  public init(
    perSecond: Double,
    burst: Double,
    clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
  ) {
    precondition(perSecond > 0 && burst >= 1)
    self.perSecond = perSecond
    self.burst = burst
    self.clock = clock
  }

  /// Takes one call from `key`'s bucket: nil when allowed, else the seconds until one would be.
  public func take(_ key: String) -> Double? {
    let now = clock()
    return state.withLock { s in
      // Full buckets carry no information: drop them now and then, so memory stays bounded by
      // the callers active in the last burst/perSecond seconds.
      if now - s.lastSweep > 60 {
        s.buckets = s.buckets.filter {
          min(burst, $0.value.tokens + (now - $0.value.updated) * perSecond) < burst
        }
        s.lastSweep = now
      }
      var bucket = s.buckets[key] ?? Bucket(tokens: burst, updated: now)
      bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * perSecond)
      bucket.updated = now
      defer { s.buckets[key] = bucket }
      guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / perSecond }
      bucket.tokens -= 1
      return nil
    }
  }
}
