import CEngineKernels
import Foundation
import Testing

@testable import Engine

/// The small pieces of generation: selection and sampling kernels and the stop-string matcher.
@Suite struct SamplingHelpersTests {
  @Test(arguments: [1, 2, 7, 100, 999, 1000])
  func kthLargestAgreesWithSorting(k: Int) {
    var random = RandomSource(seed: UInt64(k))
    // Many ties: values drawn from a small set.
    let values = (0 ..< 1000).map { _ in Float(random.next() % 37) - 18 }
    var scratch = [Float](repeating: 0, count: values.count)
    let kth = values.withUnsafeBufferPointer { x in
      scratch.withUnsafeMutableBufferPointer { gn_kth_largest(x.baseAddress!, x.count, k, $0.baseAddress!) }
    }
    #expect(kth == values.sorted(by: >)[k - 1])
    var order = [UInt32](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { x in
      order.withUnsafeMutableBufferPointer { gn_argsort_descending(x.baseAddress!, x.count, $0.baseAddress!) }
    }
    let expected = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    #expect(order.map(Int.init) == expected)
  }

  @Test(arguments: [1, 7, 8, 9, 50257])
  func drawsInvertTheSoftmaxsCumulativeSumAndSkipRuledOutTokens(n: Int) {
    var random = RandomSource(seed: UInt64(n))
    // Scores in [-8, 8), every third ruled out (-inf) except the first.
    let logits = (0 ..< n).map { i -> Float in
      i > 0 && i % 3 == 0 ? -.infinity : Float(random.nextUnit() * 16 - 8)
    }
    let m = Double(logits.max()!)
    let e = logits.map { $0 == -.infinity ? 0 : exp(Double($0) - m) }
    let total = e.reduce(0, +)
    var below = [Double](repeating: 0, count: n)  // the probability of the tokens before i
    for i in 1 ..< max(n, 1) { below[i] = below[i - 1] + e[i - 1] / total }
    for step in 0 ..< 997 {
      let u = Double(step) / 997
      let id = logits.withUnsafeBufferPointer { gn_draw_softmax($0.baseAddress!, n, u) }
      #expect(id < n && logits[id] > -.infinity, "u \(u): \(id)")
      guard id < n else { return }
      // The drawn token's interval of the cumulative distribution holds u (float rounding aside).
      #expect(below[id] <= u + 1e-5 && u < below[id] + e[id] / total + 1e-5, "u \(u): \(id)")
    }
    let none = [Float](repeating: -.infinity, count: n)
    #expect(none.withUnsafeBufferPointer { gn_draw_softmax($0.baseAddress!, n, 0.5) } == n)
  }

  @Test func stopStringsSplitAcrossDeltasAreHeldBackAndCut() {
    var matcher = StopSequenceMatcher(["\n\nStudent:", "END"])
    var out = ""
    func feed(_ s: String) -> Bool {
      switch matcher.append(s) {
      case .emit(let t):
        out += t
        return false
      case .stop(let t):
        out += t
        return true
      }
    }
    #expect(!feed("The answer is 4."))
    #expect(out == "The answer is 4.")
    #expect(!feed("\n"))
    #expect(out == "The answer is 4.")  // "\n" might start "\n\nStudent:"
    #expect(!feed("\nStu"))
    #expect(out == "The answer is 4.")
    #expect(feed("dent: why"))
    #expect(out == "The answer is 4.")
    #expect(matcher.fullText == "The answer is 4.")

    var partial = StopSequenceMatcher(["END"])
    guard case .emit(let a) = partial.append("the EN") else {
      Issue.record("stopped early")
      return
    }
    #expect(a == "the ")
    guard case .emit(let b) = partial.append("TER the E") else {
      Issue.record("false stop")
      return
    }
    #expect(b == "ENTER the ")
    #expect(partial.flush() == "E")
  }

  @Test func randomSourceIsReproducible() {
    var a = RandomSource(seed: 99)
    var b = RandomSource(seed: 99)
    var c = RandomSource(seed: 100)
    let xs = (0 ..< 8).map { _ in a.next() }
    #expect(xs == (0 ..< 8).map { _ in b.next() })
    #expect(xs != (0 ..< 8).map { _ in c.next() })
    #expect((0 ..< 1000).allSatisfy { _ in (0 ..< 1).contains(a.nextUnit()) })
  }
}
