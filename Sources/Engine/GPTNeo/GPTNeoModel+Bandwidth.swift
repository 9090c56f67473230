import Foundation

extension GPTNeoModel {
  /// Reads every byte of the weights once, split evenly over ``threads`` threads, and returns the
  /// bytes read per second: the rate a batch-1 decoding step (which streams all the weights)
  /// could reach at best, measured on the weights' own pages (mapped or loaded) rather than on a
  /// buffer of its own. The bytes are summed as integers, so no value is ever interpreted.
  public func weightReadBandwidth() -> Double {
    // Addresses as integers, so that the threads may share them.
    let regions = weights.allTensors.flatMap(\.regions).map {
      (start: UInt(bitPattern: $0.start), bytes: $0.bytes)
    }
    let total = regions.reduce(0) { $0 + $1.bytes }
    let share = (total + threads - 1) / threads
    let start = ContinuousClock.now
    let sums = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: threads)
    defer { sums.deallocate() }
    let sumsAddress = UInt(bitPattern: sums.baseAddress)
    DispatchQueue.concurrentPerform(iterations: threads) { t in
      // This thread's share of the regions laid end to end.
      var skip = t * share
      var left = min(share, max(0, total - skip))
      var sum: UInt32 = 0
      for region in regions where left > 0 {
        guard skip < region.bytes else {
          skip -= region.bytes
          continue
        }
        let bytes = min(region.bytes - skip, left)
        sum &+= Self.sumWords(UnsafeRawPointer(bitPattern: region.start)! + skip, bytes: bytes)
        left -= bytes
        skip = 0
      }
      UnsafeMutablePointer<UInt32>(bitPattern: sumsAddress)![t] = sum
    }
    let elapsed = (ContinuousClock.now - start).components
    // (Each thread stores its sum through the buffer, so the reads are not optimised away.)
    return Double(total) / (Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
  }

  /// The wrapping sum of `bytes` bytes as 32-bit words, 64 bytes at a time in four independent
  /// chains so that the loads, not the adds, set the pace (trailing bytes one by one).
  static func sumWords(_ start: UnsafeRawPointer, bytes: Int) -> UInt32 {
    var a = SIMD16<UInt32>()
    var b = SIMD16<UInt32>()
    var c = SIMD16<UInt32>()
    var d = SIMD16<UInt32>()
    var i = 0
    while i + 256 <= bytes {
      a &+= start.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt32>.self)
      b &+= start.loadUnaligned(fromByteOffset: i + 64, as: SIMD16<UInt32>.self)
      c &+= start.loadUnaligned(fromByteOffset: i + 128, as: SIMD16<UInt32>.self)
      d &+= start.loadUnaligned(fromByteOffset: i + 192, as: SIMD16<UInt32>.self)
      i += 256
    }
    var sum = (a &+ b &+ c &+ d).wrappedSum()
    while i < bytes {
      sum &+= UInt32(start.load(fromByteOffset: i, as: UInt8.self))
      i += 1
    }
    return sum
  }
}
