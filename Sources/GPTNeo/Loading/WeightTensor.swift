import CGPTNeoKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the engine holds the large weight matrices in memory (the token embeddings / LM head and
/// every Linear layer; positions, LayerNorms and biases stay float32).
public enum WeightFormat: String, Sendable, CaseIterable {
  /// Exact: float32 checkpoints are used in place (memory-mapped), others converted once.
  case float32
  /// Half the bytes per token: float16 checkpoints are used in place, others rounded once
  /// (to nearest even, as torch's `.half()`); the kernels convert with F16C.
  case float16
  /// A quarter of the bytes in the Linear layers: symmetric int8 per output row
  /// (`w ≈ q · scale[row]`), quantised at load. The token embeddings, which are also the LM head,
  /// stay float16: the head's error goes straight into every logit.
  case int8

  /// The format of the token embeddings / LM head under this format.
  var embeddingFormat: WeightFormat { self == .int8 ? .float16 : self }
}

/// A read-only tensor of the model: a view into a memory-mapped checkpoint (no copy), or an owned
/// buffer converted at load time.
///
/// `@unchecked Sendable` is sound: the storage is never written after `init`, and the mapped file
/// it may point into is kept alive by `owner`.
final class WeightTensor: @unchecked Sendable {
  enum Storage {
    case float32(UnsafePointer<Float>)
    case float16(UnsafePointer<UInt16>)
    case int8(UnsafePointer<Int8>, scales: UnsafePointer<Float>)
  }

  let shape: [Int]
  let storage: Storage
  private let owner: (any Sendable)?
  private let owned: [UnsafeMutableRawPointer]

  var count: Int { shape.reduce(1, *) }
  /// True when the tensor is read in place from the mapped checkpoint.
  var isMapped: Bool { owned.isEmpty }
  var format: WeightFormat {
    switch storage {
    case .float32: return .float32
    case .float16: return .float16
    case .int8: return .int8
    }
  }
  /// Bytes the tensor occupies.
  var byteCount: Int {
    switch storage {
    case .float32: return count * 4
    case .float16: return count * 2
    case .int8: return count + shape[0] * 4
    }
  }

  /// The float32 values; only for tensors kept as float32 (all but the large matrices).
  var pointer: UnsafePointer<Float> {
    guard case .float32(let p) = storage else { preconditionFailure("tensor is stored as \(format)") }
    return p
  }

  /// - Parameter bytes: the tensor's data inside a read-only file mapping that `owner` keeps alive.
  init(
    shape: [Int],
    bytes: UnsafeRawBufferPointer,
    dtype: SafeTensorsFile.DType,
    owner: any Sendable,
    format: WeightFormat = .float32
  ) {
    self.shape = shape
    let n = shape.reduce(1, *)
    let base = bytes.baseAddress
    func aligned(_ alignment: Int) -> Bool { base.map { Int(bitPattern: $0) % alignment == 0 } ?? false }
    // In place when the file already holds the format.
    if format == .float32, dtype == .f32, aligned(4), let base {
      storage = .float32(base.assumingMemoryBound(to: Float.self))
      self.owner = owner
      owned = []
      return
    }
    if format == .float16, dtype == .f16, aligned(2), let base {
      storage = .float16(base.assumingMemoryBound(to: UInt16.self))
      self.owner = owner
      owned = []
      return
    }
    self.owner = nil
    // Otherwise through float32; the source pages of the mapped file are handed back afterwards.
    defer { if let base { Self.releasePages(UnsafeRawBufferPointer(start: base, count: bytes.count)) } }
    let values = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
    if let base, n > 0 {
      switch dtype {
      case .f32: UnsafeMutableRawPointer(values).copyMemory(from: base, byteCount: n * 4)
      case .f16: gn_f16_to_f32(base.assumingMemoryBound(to: UInt16.self), values, n)
      case .bf16: gn_bf16_to_f32(base.assumingMemoryBound(to: UInt16.self), values, n)
      }
    }
    switch format {
    case .float32:
      storage = .float32(UnsafePointer(values))
      owned = [UnsafeMutableRawPointer(values)]
    case .float16:
      let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: max(n, 1))
      gn_f32_to_f16(values, halves, n)
      values.deallocate()
      storage = .float16(UnsafePointer(halves))
      owned = [UnsafeMutableRawPointer(halves)]
    case .int8:
      let rows = shape[0]
      let k = n / max(rows, 1)
      let q = UnsafeMutablePointer<Int8>.allocate(capacity: max(n, 1))
      let scales = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))
      gn_quantize_q8(values, rows, k, q, scales)
      values.deallocate()
      storage = .int8(UnsafePointer(q), scales: UnsafePointer(scales))
      owned = [UnsafeMutableRawPointer(q), UnsafeMutableRawPointer(scales)]
    }
  }

  deinit {
    for buffer in owned { buffer.deallocate() }
  }

  /// Drops the whole pages of a read-only file mapping from resident memory once their contents
  /// were converted: a converted model's peak memory is then about its converted size, not that
  /// plus the file. (A later read would fault them back in from the file; none happens.)
  private static func releasePages(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: base) + page - 1) / page * page
    let end = (Int(bitPattern: base) + bytes.count) / page * page
    guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(pointer, end - start, Int32(MADV_DONTNEED))
  }

  /// Row `row` of a matrix as float32 (the embedding lookup), into `destination[0..<shape[1]]`.
  func copyRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
    let k = shape[1]
    switch storage {
    case .float32(let p): destination.update(from: p + row * k, count: k)
    case .float16(let p): gn_f16_to_f32(p + row * k, destination, k)
    case .int8(let q, let scales):
      let s = scales[row]
      for i in 0 ..< k { destination[i] = Float(q[row * k + i]) * s }
    }
  }

  /// y[i, j] = bias[j] + x[i] · row j, for columns `columns` (see `gn_linear_f32`).
  func linear(
    _ x: UnsafePointer<Float>,
    rows m: Int,
    bias: UnsafePointer<Float>?,
    into y: UnsafeMutablePointer<Float>,
    columns: Range<Int>
  ) {
    let k = shape[1]
    let n = shape[0]
    switch storage {
    case .float32(let w):
      gn_linear_f32(x, m, k, w, bias, y, n, columns.lowerBound, columns.upperBound)
    case .float16(let w):
      gn_linear_f16(x, m, k, w, bias, y, n, columns.lowerBound, columns.upperBound)
    case .int8(let q, let scales):
      gn_linear_q8(x, m, k, q, scales, bias, y, n, columns.lowerBound, columns.upperBound)
    }
  }
}
