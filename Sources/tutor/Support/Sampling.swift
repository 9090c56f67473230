import Foundation

// Seeded randomness and order statistics for the benchmarks and the load test.

/// A small seeded generator for reproducible corpora.
struct SplitMix {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Zipf-distributed ranks, as word frequencies in text are.
struct Zipf {
  private let cumulative: [Double]
  init(count: Int, exponent: Double) {
    var c: [Double] = []
    var total = 0.0
    for k in 1 ... count {
      total += 1 / pow(Double(k), exponent)
      c.append(total)
    }
    cumulative = c.map { $0 / total }
  }
  func sample(_ rng: inout SplitMix) -> Int {
    let u = rng.unit()
    var lo = 0
    var hi = cumulative.count - 1
    while lo < hi {
      let mid = (lo + hi) / 2
      if cumulative[mid] < u { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }
}

func median(_ xs: [Double]) -> Double { percentile(xs, 0.5) }

func percentile(_ xs: [Double], _ p: Double) -> Double {
  guard !xs.isEmpty else { return 0 }
  let s = xs.sorted()
  return s[min(s.count - 1, Int(Double(s.count - 1) * p + 0.5))]
}
