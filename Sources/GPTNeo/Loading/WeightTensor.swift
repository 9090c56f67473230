import CGPTNeoKernels

/// A read-only float32 tensor of the model: a view into a memory-mapped float32 checkpoint
/// (no copy), or an owned buffer converted from float16 / bfloat16 at load time.
///
/// `@unchecked Sendable` is sound: the storage is never written after `init`, and the mapped file
/// it may point into is kept alive by `owner`.
final class WeightTensor: @unchecked Sendable {
  let shape: [Int]
  let pointer: UnsafePointer<Float>
  private let owner: (any Sendable)?
  private let owned: UnsafeMutablePointer<Float>?

  var count: Int { shape.reduce(1, *) }
  /// True when the tensor is read in place from the mapped checkpoint (float32, aligned).
  var isMapped: Bool { owned == nil }

  init(shape: [Int], bytes: UnsafeRawBufferPointer, dtype: SafeTensorsFile.DType, owner: any Sendable) {
    self.shape = shape
    let n = shape.reduce(1, *)
    if dtype == .f32, let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0
    {
      pointer = base.assumingMemoryBound(to: Float.self)
      self.owner = owner
      owned = nil
      return
    }
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
    if let base = bytes.baseAddress, n > 0 {
      switch dtype {
      case .f32: UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: n * 4)
      case .f16: gn_f16_to_f32(base.assumingMemoryBound(to: UInt16.self), buffer, n)
      case .bf16: gn_bf16_to_f32(base.assumingMemoryBound(to: UInt16.self), buffer, n)
      }
    }
    pointer = UnsafePointer(buffer)
    self.owner = nil
    owned = buffer
  }

  deinit {
    owned?.deallocate()
  }
}
