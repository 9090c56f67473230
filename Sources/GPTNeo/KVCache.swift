/// Keys and values of every layer for the tokens a sequence has seen so far, plus the scratch
/// buffers its forward passes reuse.
///
/// One cache belongs to one sequence and is used by one thread at a time (it is not `Sendable`).
/// Local layers keep all positions too but attend only to the last `window_size` of them, exactly
/// as `modeling_gpt_neo.py` masks them; the capacity never exceeds `max_position_embeddings`.
public final class KVCache {
  /// Number of positions already processed.
  public private(set) var count: Int = 0
  /// Positions the buffers can hold before they grow.
  public private(set) var capacity: Int
  /// The longest sequence the model accepts.
  public let limit: Int
  let hidden: Int
  let layers: Int
  private(set) var keys: [UnsafeMutablePointer<Float>]
  private(set) var values: [UnsafeMutablePointer<Float>]

  init(configuration c: GPTNeoConfiguration, capacity: Int) {
    limit = c.maxPositionEmbeddings
    hidden = c.hiddenSize
    layers = c.numLayers
    let positions = min(max(capacity, 1), limit)
    self.capacity = positions
    keys = (0 ..< c.numLayers).map { _ in .allocate(capacity: positions * c.hiddenSize) }
    values = (0 ..< c.numLayers).map { _ in .allocate(capacity: positions * c.hiddenSize) }
  }

  deinit {
    keys.forEach { $0.deallocate() }
    values.forEach { $0.deallocate() }
  }

  /// Forgets every position (the buffers are kept for reuse).
  public func reset() { count = 0 }

  /// Makes room for `n` more positions; the caller has checked `count + n <= limit`.
  func reserve(_ n: Int) {
    let needed = count + n
    guard needed > capacity else { return }
    let newCapacity = min(max(needed, capacity * 2), limit)
    for i in 0 ..< layers {
      for isKey in [true, false] {
        let old = isKey ? keys[i] : values[i]
        let fresh = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * hidden)
        fresh.update(from: old, count: count * hidden)
        old.deallocate()
        if isKey { keys[i] = fresh } else { values[i] = fresh }
      }
    }
    capacity = newCapacity
  }

  func advance(by n: Int) { count += n }
}
