import CEngineKernels
import Dispatch
import Foundation

/// How the engine holds the large weight matrices in memory (the token embeddings / LM head and
/// every Linear layer; positions, LayerNorms and biases stay float32).
///
/// Whatever the format, the matrices are repacked at load into panels of 16 output columns, the
/// layout the kernels stream (`gn_linear_packed_f32`), and the checkpoint's pages are released:
/// resident memory is the packed size.
public enum WeightFormat: String, Sendable, CaseIterable {
  /// Exact.
  case float32
  /// Half the bytes per token: float16 checkpoints as they are, others rounded once (to nearest
  /// even, as torch's `.half()`); the kernels convert with F16C, and compute exactly what the
  /// float32 values of the same halves give.
  case float16
  /// A quarter of the bytes in the Linear layers: symmetric int8 per output row
  /// (`w ≈ q · scale[row]`), quantised at load. The token embeddings, which are also the LM head,
  /// stay float16: the head's error goes straight into every logit.
  case int8

  /// The format of the token embeddings / LM head under this format.
  var embeddingFormat: WeightFormat { self == .int8 ? .float16 : self }
}

/// A read-only tensor of the model, owned: float32 for the small tensors, packed (and converted)
/// at load for the weight matrices. Nothing points into the checkpoint's mapping once loaded.
///
/// `@unchecked Sendable` is sound: the storage is never written after `init`.
final class WeightTensor: @unchecked Sendable {
  enum Storage {
    /// Plain row-major float32 (positions, LayerNorms, biases).
    case float32(UnsafePointer<Float>)
    /// Weight matrices in panels of 16 rows (`gn_pack_f32` and its float16 / int8 versions).
    case packedFloat32(UnsafePointer<Float>)
    case packedFloat16(UnsafePointer<UInt16>)
    case packedInt8(UnsafePointer<Int8>, scales: UnsafePointer<Float>)
  }

  let shape: [Int]
  let storage: Storage
  private let owned: [UnsafeMutableRawPointer]
  /// The packed-weights file the storage points into, when it came from one (kept mapped).
  private let mapping: MappedFile?

  var count: Int { shape.reduce(1, *) }
  /// True for a weight matrix, held packed for the kernels.
  var isPacked: Bool {
    if case .float32 = storage { return false }
    return true
  }
  var format: WeightFormat {
    switch storage {
    case .float32, .packedFloat32: return .float32
    case .packedFloat16: return .float16
    case .packedInt8: return .int8
    }
  }
  /// Bytes the tensor's values occupy (a packed matrix's padding to whole panels not counted).
  var byteCount: Int {
    switch storage {
    case .float32, .packedFloat32: return count * 4
    case .packedFloat16: return count * 2
    case .packedInt8: return count + shape[0] * 4
    }
  }

  /// Where the tensor's values lie: one region, or an int8 matrix's values and its scales.
  var regions: [(start: UnsafeRawPointer, bytes: Int)] {
    switch storage {
    case .float32(let p), .packedFloat32(let p): return [(UnsafeRawPointer(p), count * 4)]
    case .packedFloat16(let p): return [(UnsafeRawPointer(p), count * 2)]
    case .packedInt8(let p, let scales):
      return [(UnsafeRawPointer(p), count), (UnsafeRawPointer(scales), shape[0] * 4)]
    }
  }

  /// The float32 values; only for tensors kept as plain float32 (all but the weight matrices).
  var pointer: UnsafePointer<Float> {
    guard case .float32(let p) = storage else { preconditionFailure("tensor is a packed weight matrix") }
    return p
  }

  /// - Parameters:
  ///   - bytes: the tensor's data (inside a read-only file mapping), read only during `init`.
  ///   - matrixFormat: for a weight matrix (`shape` [rows, k]), the format to hold it in; nil for
  ///     other tensors, kept as float32.
  init(
    shape: [Int],
    bytes: UnsafeRawBufferPointer,
    dtype: SafeTensorsFile.DType,
    format matrixFormat: WeightFormat? = nil
  ) {
    self.shape = shape
    mapping = nil
    let n = shape.reduce(1, *)
    let base = bytes.baseAddress
    func aligned(_ alignment: Int) -> Bool { base.map { Int(bitPattern: $0) % alignment == 0 } ?? false }
    guard let format = matrixFormat, shape.count == 2 else {
      let values = Self.float32Values(bytes, dtype: dtype, count: n)
      storage = .float32(UnsafePointer(values))
      owned = [UnsafeMutableRawPointer(values)]
      return
    }
    let (rows, k) = (shape[0], shape[1])
    let panels = (rows + 15) / 16
    let packedCount = max(gn_packed_count(rows, k), 1)
    func allocate<T>(_: T.Type) -> UnsafeMutablePointer<T> {
      UnsafeMutableRawPointer.allocate(byteCount: packedCount * MemoryLayout<T>.stride, alignment: 64)
        .bindMemory(to: T.self, capacity: packedCount)
    }
    switch format {
    case .float32:
      let packed = allocate(Float.self)
      if dtype == .f32, aligned(4), let base {
        Self.pack(panels) { gn_pack_f32(base.assumingMemoryBound(to: Float.self), rows, k, packed, $0, $1) }
      } else {
        let values = Self.float32Values(bytes, dtype: dtype, count: n)
        Self.pack(panels) { gn_pack_f32(values, rows, k, packed, $0, $1) }
        values.deallocate()
      }
      storage = .packedFloat32(UnsafePointer(packed))
      owned = [UnsafeMutableRawPointer(packed)]
    case .float16:
      let packed = allocate(UInt16.self)
      if dtype == .f16, aligned(2), let base {
        Self.pack(panels) { gn_pack_f16(base.assumingMemoryBound(to: UInt16.self), rows, k, packed, $0, $1) }
      } else {
        let values = Self.float32Values(bytes, dtype: dtype, count: n)
        let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: max(n, 1))
        gn_f32_to_f16(values, halves, n)
        values.deallocate()
        Self.pack(panels) { gn_pack_f16(halves, rows, k, packed, $0, $1) }
        halves.deallocate()
      }
      storage = .packedFloat16(UnsafePointer(packed))
      owned = [UnsafeMutableRawPointer(packed)]
    case .int8:
      let values = Self.float32Values(bytes, dtype: dtype, count: n)
      let q = UnsafeMutablePointer<Int8>.allocate(capacity: max(n, 1))
      let scales = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))
      gn_quantize_q8(values, rows, k, q, scales)
      values.deallocate()
      let packed = allocate(Int8.self)
      Self.pack(panels) { gn_pack_q8(q, rows, k, packed, $0, $1) }
      q.deallocate()
      storage = .packedInt8(UnsafePointer(packed), scales: UnsafePointer(scales))
      owned = [UnsafeMutableRawPointer(packed), UnsafeMutableRawPointer(scales)]
    }
  }

  /// Runs `body(first, end)` over disjoint ranges covering panels 0..<panels, on every core for a
  /// large matrix (packing a 125M model's 500 MB takes about 0.6 s on one core).
  ///
  /// The closures capture raw pointers, which are not `Sendable`; each range writes its own
  /// panels and only reads the source, and the call returns when all are done (as in
  /// `WorkerPool.run`).
  private static func pack(_ panels: Int, _ body: (Int, Int) -> Void) {
    let parts = min(ProcessInfo.processInfo.activeProcessorCount, max(1, panels / 64))
    guard parts > 1 else { return body(0, panels) }
    withoutActuallyEscaping(body) { body in
      let sendable = unsafeBitCast(body, to: (@Sendable (Int, Int) -> Void).self)
      DispatchQueue.concurrentPerform(iterations: parts) { part in
        sendable(panels * part / parts, panels * (part + 1) / parts)
      }
    }
  }

  /// The tensor's values as a new float32 buffer (the caller deallocates it).
  private static func float32Values(
    _ bytes: UnsafeRawBufferPointer,
    dtype: SafeTensorsFile.DType,
    count n: Int
  ) -> UnsafeMutablePointer<Float> {
    let values = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
    if let base = bytes.baseAddress, n > 0 {
      switch dtype {
      case .f32: UnsafeMutableRawPointer(values).copyMemory(from: base, byteCount: n * 4)
      case .f16: gn_f16_to_f32(base.assumingMemoryBound(to: UInt16.self), values, n)
      case .bf16: gn_bf16_to_f32(base.assumingMemoryBound(to: UInt16.self), values, n)
      }
    }
    return values
  }

  deinit {
    for buffer in owned { buffer.deallocate() }
  }

  /// A tensor whose storage lies in a mapped packed-weights file (``PackedWeights``); `parts`
  /// are its blobs in the order ``blobs`` gives them.
  init(shape: [Int], kind: String, parts: [UnsafeRawPointer], mapping: MappedFile) throws {
    self.shape = shape
    self.mapping = mapping
    owned = []
    switch (kind, parts.count) {
    case ("f32", 1): storage = .float32(parts[0].assumingMemoryBound(to: Float.self))
    case ("packed-f32", 1): storage = .packedFloat32(parts[0].assumingMemoryBound(to: Float.self))
    case ("packed-f16", 1): storage = .packedFloat16(parts[0].assumingMemoryBound(to: UInt16.self))
    case ("packed-q8", 2):
      storage = .packedInt8(
        parts[0].assumingMemoryBound(to: Int8.self),
        scales: parts[1].assumingMemoryBound(to: Float.self)
      )
    default:
      throw EngineError.corruptSafetensors(path: mapping.path, reason: "unknown tensor kind '\(kind)'")
    }
  }

  /// How the storage is held, as a packed-weights file names it.
  var kind: String {
    switch storage {
    case .float32: "f32"
    case .packedFloat32: "packed-f32"
    case .packedFloat16: "packed-f16"
    case .packedInt8: "packed-q8"
    }
  }

  /// The storage's buffers and their lengths in bytes (a packed matrix with its panel padding).
  var blobs: [UnsafeRawBufferPointer] {
    let packed = shape.count == 2 ? max(gn_packed_count(shape[0], shape[1]), 1) : 0
    switch storage {
    case .float32(let p): return [UnsafeRawBufferPointer(start: p, count: count * 4)]
    case .packedFloat32(let p): return [UnsafeRawBufferPointer(start: p, count: packed * 4)]
    case .packedFloat16(let p): return [UnsafeRawBufferPointer(start: p, count: packed * 2)]
    case .packedInt8(let q, let scales):
      return [
        UnsafeRawBufferPointer(start: q, count: packed),
        UnsafeRawBufferPointer(start: scales, count: shape[0] * 4),
      ]
    }
  }

  /// Row `row` of a matrix as float32 (the embedding lookup), into `destination[0..<shape[1]]`.
  func copyRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
    let k = shape[1]
    switch storage {
    case .float32(let p): destination.update(from: p + row * k, count: k)
    case .packedFloat32(let p): gn_packed_row_f32(p, k, row, destination)
    case .packedFloat16(let p):
      withUnsafeTemporaryAllocation(of: UInt16.self, capacity: k) { halves in
        gn_packed_row_f16(p, k, row, halves.baseAddress!)
        gn_f16_to_f32(halves.baseAddress!, destination, k)
      }
    case .packedInt8(let q, let scales):
      withUnsafeTemporaryAllocation(of: Int8.self, capacity: k) { values in
        gn_packed_row_q8(q, k, row, values.baseAddress!)
        let s = scales[row]
        for i in 0 ..< k { destination[i] = Float(values[i]) * s }
      }
    }
  }

  /// y[i, j] = bias[j] + x[i] · row j, for columns `columns` of a weight matrix (see
  /// `gn_linear_packed_f32`): `columns` starts at a multiple of 16 and ends at one or at the last
  /// row.
  func linear(
    _ x: UnsafePointer<Float>,
    rows m: Int,
    bias: UnsafePointer<Float>?,
    into y: UnsafeMutablePointer<Float>,
    columns: Range<Int>
  ) {
    let k = shape[1]
    let n = shape[0]
    let (lo, hi) = (columns.lowerBound, columns.upperBound)
    switch storage {
    case .packedFloat32(let w): gn_linear_packed_f32(x, m, k, w, nil, bias, y, n, lo, hi)
    case .packedFloat16(let w): gn_linear_packed_f16(x, m, k, w, nil, bias, y, n, lo, hi)
    case .packedInt8(let q, let scales): gn_linear_packed_q8(x, m, k, q, scales, bias, y, n, lo, hi)
    case .float32: preconditionFailure("linear on a tensor that is not a weight matrix")
    }
  }
}
