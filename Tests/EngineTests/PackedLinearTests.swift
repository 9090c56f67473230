import CEngineKernels
import Testing

/// The packed matrix products (`gn_linear_packed_*`) against a double-precision reference, and
/// their promise: every output is the same bits whatever the number of rows, the tile or the
/// column range it is computed in.
@Suite struct PackedLinearTests {
  static let (n, k) = (37, 45)  // a partial last panel, k odd

  /// Deterministic values in [-1, 1).
  static func values(_ count: Int, seed: Int) -> [Float] {
    (0 ..< count).map { Float((($0 * 7919 + seed * 104729) % 2000)) / 1000 - 1 }
  }

  enum Format: CaseIterable { case float32, float16, int8 }

  /// y = x · Wᵀ (+ bias) through the packed kernel of `format` for `rows` rows of `x`, computed
  /// as the column ranges `ranges`; ldy is n + 3, the 3 extra columns must stay untouched.
  static func product(
    _ format: Format,
    w: [Float],
    x: [Float],
    rows m: Int,
    bias: [Float]?,
    ranges: [Range<Int>]
  )
    -> [Float]
  {
    let (n, k) = (Self.n, Self.k)
    let ldy = n + 3
    var y = [Float](repeating: .nan, count: m * ldy)
    /// Packs `values` with `pack`, then runs `linear(packed, begin, end)` for each range.
    func packed<T: Numeric>(
      _ values: [T],
      _ pack: (UnsafePointer<T>?, Int, Int, UnsafeMutablePointer<T>?, Int, Int) -> Void,
      _ linear: (UnsafePointer<T>, Int, Int) -> Void
    ) {
      var panels = [T](repeating: 0, count: gn_packed_count(n, k))
      pack(values, n, k, &panels, 0, (n + 15) / 16)
      for r in ranges { linear(panels, r.lowerBound, r.upperBound) }
    }
    switch format {
    case .float32:
      packed(w, gn_pack_f32) { gn_linear_packed_f32(x, m, k, $0, nil, bias, &y, ldy, $1, $2) }
    case .float16:
      var halves = [UInt16](repeating: 0, count: w.count)
      gn_f32_to_f16(w, &halves, w.count)
      packed(halves, gn_pack_f16) { gn_linear_packed_f16(x, m, k, $0, nil, bias, &y, ldy, $1, $2) }
    case .int8:
      var q = [Int8](repeating: 0, count: w.count)
      var scales = [Float](repeating: 0, count: n)
      gn_quantize_q8(w, n, k, &q, &scales)
      packed(q, gn_pack_q8) { gn_linear_packed_q8(x, m, k, $0, scales, bias, &y, ldy, $1, $2) }
    }
    for i in 0 ..< m {
      let past = y[i * ldy + n ..< (i + 1) * ldy]
      #expect(past.allSatisfy { $0.isNaN }, "row \(i) written past n")
    }
    return (0 ..< m).flatMap { y[$0 * ldy ..< $0 * ldy + n] }
  }

  @Test(arguments: Format.allCases)
  func sameBitsForEveryRowCountAndRangeAndCloseToTheReference(format: Format) {
    let (n, k) = (Self.n, Self.k)
    let w = Self.values(n * k, seed: 1)
    let bias = Self.values(n, seed: 2)
    let x = Self.values(20 * k, seed: 3)
    let alone = (0 ..< 20).map { i in
      Self.product(format, w: w, x: Array(x[i * k ..< (i + 1) * k]), rows: 1, bias: bias, ranges: [0 ..< n])
    }
    let tolerance: Double = format == .float32 ? 1e-5 : format == .float16 ? 2e-2 : 5e-2
    for m in [1, 2, 3, 5, 6, 7, 8, 9, 13, 20] {
      for ranges in [[0 ..< n], [0 ..< 16, 16 ..< 32, 32 ..< n], [16 ..< n, 0 ..< 16]] {
        let y = Self.product(format, w: w, x: x, rows: m, bias: bias, ranges: ranges)
        for i in 0 ..< m {
          #expect(Array(y[i * n ..< (i + 1) * n]) == alone[i], "\(format) m \(m) row \(i) ranges \(ranges)")
          for j in 0 ..< n {
            var reference = Double(bias[j])
            for t in 0 ..< k { reference += Double(x[i * k + t]) * Double(w[j * k + t]) }
            #expect(abs(Double(y[i * n + j]) - reference) <= tolerance * max(1, abs(reference)))
          }
        }
      }
    }
  }

  @Test func float16WeightsGiveWhatTheirFloat32ValuesGive() {
    let (n, k) = (Self.n, Self.k)
    var halves = [UInt16](repeating: 0, count: n * k)
    gn_f32_to_f16(Self.values(n * k, seed: 4), &halves, n * k)
    var upcast = [Float](repeating: 0, count: n * k)
    gn_f16_to_f32(halves, &upcast, n * k)
    let x = Self.values(9 * k, seed: 5)
    #expect(
      Self.product(.float16, w: upcast, x: x, rows: 9, bias: nil, ranges: [0 ..< n])
        == Self.product(.float32, w: upcast, x: x, rows: 9, bias: nil, ranges: [0 ..< n])
    )
  }

  @Test func packedRowsReadBackAsTheMatrixRows() {
    let (n, k) = (Self.n, Self.k)
    let w = Self.values(n * k, seed: 6)
    var packed = [Float](repeating: 0, count: gn_packed_count(n, k))
    gn_pack_f32(w, n, k, &packed, 0, (n + 15) / 16)
    var row = [Float](repeating: 0, count: k)
    for j in [0, 15, 16, 36] {
      gn_packed_row_f32(packed, k, j, &row)
      #expect(row == Array(w[j * k ..< (j + 1) * k]))
    }
    // The padding of the last panel (rows 37..<48) is zero.
    #expect(
      (37 ..< 48).allSatisfy { j in (0 ..< k).allSatisfy { packed[2 * 16 * k + $0 * 16 + j % 16] == 0 } }
    )
  }
}
