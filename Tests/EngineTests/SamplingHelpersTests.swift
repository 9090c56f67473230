import CEngineKernels
import Testing

@testable import Engine

/// The small pieces of generation: selection kernels and the stop-string matcher.
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
