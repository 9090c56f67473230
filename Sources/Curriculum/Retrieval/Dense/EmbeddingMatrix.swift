import Dispatch

/// The snippets' unit vectors, one row each, held as int8 with one float scale per row
/// (x ≈ q · scale, scale = max|x| / 127): a quarter of float32's memory (38 MB for 100,000
/// MiniLM vectors), and cosines within about 0.003 of float32's, which `tutor curriculum eval`
/// shows leaves recall unchanged. `.float32` keeps the exact vectors.
public struct EmbeddingMatrix: Sendable {
  public enum Precision: String, Sendable, CaseIterable {
    case float32, int8
  }

  public let dimension: Int
  public let count: Int
  public let precision: Precision
  private let quantized: [Int8]
  private let scales: [Float]
  private let exact: [Float]

  public init(vectors: [[Float]], dimension: Int, precision: Precision = .int8) {
    self.dimension = dimension
    count = vectors.count
    self.precision = precision
    switch precision {
    case .float32:
      exact = vectors.flatMap { $0 }
      quantized = []
      scales = []
    case .int8:
      var q = [Int8](repeating: 0, count: vectors.count * dimension)
      var s = [Float](repeating: 0, count: vectors.count)
      for (r, v) in vectors.enumerated() {
        let amax = v.reduce(0) { max($0, abs($1)) }
        let scale = amax / 127
        s[r] = scale
        guard scale > 0 else { continue }
        for j in 0 ..< dimension { q[r * dimension + j] = Int8((v[j] / scale).rounded()) }
      }
      quantized = q
      scales = s
      exact = []
    }
  }

  /// Bytes the vectors occupy.
  public var byteCount: Int { quantized.count + scales.count * 4 + exact.count * 4 }

  /// Dot products of `query` with rows `rows` (cosines, for unit vectors), `result[i]` for row
  /// `rows.lowerBound + i`. Large ranges are split over the cores. Against int8 rows the query is
  /// quantised to int16 (relative error below 1e-4) and the sums are integer.
  public func similarities(_ query: [Float], rows: Range<Int>) -> [Float] {
    precondition(query.count == dimension, "query has \(query.count) values, the matrix \(dimension)")
    var out = [Float](repeating: 0, count: rows.count)
    let d = dimension
    let parts = rows.count >= 8192 ? 4 : 1
    let amax = query.reduce(0) { max($0, abs($1)) }
    let queryScale = amax > 0 ? amax / 32767 : 1
    let q16 = query.map { Int16(($0 / queryScale).rounded()) }
    out.withUnsafeMutableBufferPointer { ob in
      let o = ob.baseAddress!
      query.withUnsafeBufferPointer { qb in
        q16.withUnsafeBufferPointer { q16b in
          let qp = qb.baseAddress!
          let q16p = q16b.baseAddress!
          let body: (Int) -> Void = { part in
            let lo = rows.lowerBound + rows.count * part / parts
            let hi = rows.lowerBound + rows.count * (part + 1) / parts
            switch precision {
            case .int8:
              quantized.withUnsafeBufferPointer { mb in
                let m = mb.baseAddress!
                for r in lo ..< hi {
                  o[r - rows.lowerBound] = Float(Self.dot(q16p, m + r * d, d)) * queryScale * scales[r]
                }
              }
            case .float32:
              exact.withUnsafeBufferPointer { mb in
                let m = mb.baseAddress!
                for r in lo ..< hi { o[r - rows.lowerBound] = Self.dot(qp, m + r * d, d) }
              }
            }
          }
          if parts == 1 {
            body(0)
          } else {
            // The closure captures raw pointers, which are not Sendable: each part writes its own
            // rows of `out`, reads only the rest, and concurrentPerform returns when all are done.
            withoutActuallyEscaping(body) { body in
              let sendable = unsafeBitCast(body, to: (@Sendable (Int) -> Void).self)
              DispatchQueue.concurrentPerform(iterations: parts, execute: sendable)
            }
          }
        }
      }
    }
    return out
  }

  /// Σ q[j]·x[j] of a query quantised to int16 and a row of int8, in integers: an integer sum
  /// may be reordered, so the compiler vectorises it (a float sum it must keep in order).
  @inline(__always)
  static func dot(_ q: UnsafePointer<Int16>, _ x: UnsafePointer<Int8>, _ d: Int) -> Int32 {
    var sum: Int32 = 0
    for j in 0 ..< d { sum &+= Int32(q[j]) &* Int32(x[j]) }
    return sum
  }

  @inline(__always)
  static func dot(_ q: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ d: Int) -> Float {
    var acc = SIMD16<Float>()
    var j = 0
    while j + 16 <= d {
      acc = acc.addingProduct(
        UnsafeRawPointer(q + j).loadUnaligned(as: SIMD16<Float>.self),
        UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
      )
      j += 16
    }
    var sum = acc.sum()
    while j < d {
      sum += q[j] * x[j]
      j += 1
    }
    return sum
  }
}
