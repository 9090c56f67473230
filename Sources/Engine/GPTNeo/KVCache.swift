import CEngineKernels

/// How a ``KVCache`` holds keys and values.
///
/// `float32` is exact: generation matches `transformers` token for token. `float16` halves the
/// cache (IEEE half, round to nearest even) and `int8` nearly quarters it (symmetric, one float16
/// scale per position and head, `x ≈ q · max|x| / 127`, as llama.cpp's `q8_0` cache does per 32);
/// both change the attention's inputs slightly, so greedy tokens can differ from the reference
/// where two candidates are nearly tied.
public enum KVCacheFormat: String, Sendable, CaseIterable {
  case float32
  case float16
  case int8

  var bytesPerElement: Int {
    switch self {
    case .float32: 4
    case .float16: 2
    case .int8: 1
    }
  }

  var code: Int32 {
    switch self {
    case .float32: Int32(GN_KV_F32)
    case .float16: Int32(GN_KV_F16)
    case .int8: Int32(GN_KV_Q8)
    }
  }
}

/// Keys and values of every layer for the tokens a sequence has seen so far.
///
/// One cache belongs to one sequence and is used by one thread at a time (it is not `Sendable`).
///
/// A global layer keeps every position. A local layer attends only to the last `window_size`
/// positions (as `modeling_gpt_neo.py` masks them), so it keeps only those, in a ring: position
/// `j` lives in row `j % rows`. A pass of `n` new tokens needs `window + n - 1` rows, so that no
/// row is overwritten while a query of the same pass (or, after a cancelled pass, the next one)
/// still sees it; the ring grows for a long prompt chunk and drops back to the window when
/// decoding goes on one token at a time. At 1024 positions a local layer of the 125M shape (window
/// 256) holds a quarter of what a global one does.
public final class KVCache {
  /// Number of positions already processed.
  public private(set) var count: Int = 0
  /// The longest sequence the model accepts.
  public let limit: Int
  /// How keys and values are held.
  public let format: KVCacheFormat
  let hidden: Int
  let heads: Int

  struct Layer {
    /// The local layer's window; 0 for a global layer.
    let window: Int
    /// Rows held (a ring when `window > 0`).
    var rows: Int
    var keys: UnsafeMutableRawPointer
    var values: UnsafeMutableRawPointer
    /// int8 only: `[rows, heads]` float16 scales.
    var keyScales: UnsafeMutablePointer<UInt16>?
    var valueScales: UnsafeMutablePointer<UInt16>?
    /// The one mapping that holds all four (see ``PageMemory``).
    var byteCount: Int

    /// Keys, values and (int8) their scales in one mapping, each part a multiple of 4 bytes long.
    init(window: Int, rows: Int, hidden: Int, heads: Int, format: KVCacheFormat) {
      let data = (rows * hidden * format.bytesPerElement + 3) / 4 * 4
      let scales = format == .int8 ? rows * heads : 0
      byteCount = 2 * data + 2 * scales * MemoryLayout<UInt16>.size
      let base = PageMemory.allocate(byteCount: byteCount)
      let scaleBase = (base + 2 * data).bindMemory(to: UInt16.self, capacity: 2 * scales)
      self.window = window
      self.rows = rows
      keys = base
      values = base + data
      keyScales = scales > 0 ? scaleBase : nil
      valueScales = scales > 0 ? scaleBase + scales : nil
    }

    func release() { PageMemory.release(keys, byteCount: byteCount) }
  }

  private(set) var layers: [Layer]

  init(configuration c: GPTNeoConfiguration, capacity: Int, format: KVCacheFormat) {
    limit = c.maxPositionEmbeddings
    hidden = c.hiddenSize
    heads = c.numHeads
    self.format = format
    let positions = min(max(capacity, 1), limit)
    layers = c.attentionLayers.map { kind in
      let window = kind == .local ? c.windowSize : 0
      let rows = window > 0 ? min(positions, window) : positions
      return Layer(window: window, rows: rows, hidden: c.hiddenSize, heads: c.numHeads, format: format)
    }
  }

  deinit {
    layers.forEach { $0.release() }
  }

  /// Forgets every position (the buffers are kept for reuse).
  public func reset() {
    count = 0
    computed = 0
  }

  /// Positions the last pass wrote (``rewind(to:)`` may have set `count` below it).
  private var computed = 0

  /// Sets the count of positions held to `n`, between 0 and the positions the last pass computed:
  /// speculative decoding rewinds past a rejected draft, then takes back the rows of each draft
  /// token it accepts (their keys and values are still in place: nothing is written until the next
  /// pass, which writes from `count` on).
  func rewind(to n: Int) {
    precondition(n >= 0 && n <= computed, "position \(n) was never computed")
    count = n
  }

  /// Bytes allocated for keys, values and scales (pages that were never written are not
  /// resident, so this is an upper bound on the cache's share of resident memory).
  public var allocatedBytes: Int {
    layers.reduce(0) { $0 + $1.byteCount }
  }

  /// Makes room for `n` more positions; the caller has checked `count + n <= limit`.
  func reserve(_ n: Int) {
    let needed = count + n
    for l in layers.indices {
      let layer = layers[l]
      if layer.window == 0 {
        if needed > layer.rows { relayout(l, rows: min(max(needed, layer.rows * 2), limit)) }
      } else {
        let required = min(needed, layer.window + n - 1)
        if required > layer.rows {
          relayout(l, rows: max(required, min(layer.rows * 2, layer.window)))
        } else if n == 1, layer.rows > layer.window + BatchedGenerator.PromptLookup.maxDraft {
          relayout(l, rows: layer.window)  // decoding: back to the window after a long chunk
        }
      }
    }
  }

  func advance(by n: Int) {
    count += n
    computed = count
  }

  /// Writes layer `l`'s keys and values of the `n` positions after `count` (`[n, hidden]`
  /// row-major each); ``reserve(_:)`` has made room.
  func store(layer l: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rows n: Int) {
    let layer = layers[l]
    gn_kv_store(keys, n, count, layer.rows, hidden, heads, format.code, layer.keys, layer.keyScales)
    gn_kv_store(values, n, count, layer.rows, hidden, heads, format.code, layer.values, layer.valueScales)
  }

  /// The attention kernel's view of one head of layer `l`.
  func view(layer l: Int, head: Int, headDim: Int) -> gn_kv_view {
    let layer = layers[l]
    let offset = head * headDim * format.bytesPerElement
    return gn_kv_view(
      k: UnsafeRawPointer(layer.keys + offset),
      v: UnsafeRawPointer(layer.values + offset),
      k_scale: layer.keyScales.map { UnsafePointer($0 + head) },
      v_scale: layer.valueScales.map { UnsafePointer($0 + head) },
      stride: hidden,
      scale_stride: heads,
      ring: layer.rows,
      format: format.code
    )
  }

  /// Copies positions `start ..< start + layout.blockSize` of every layer into `block` (laid out
  /// as `layout` says), bytes as stored: a block read back by ``load(blocks:layout:)`` gives the
  /// very keys and values the pass computed. The positions must still be held (a local layer's
  /// ring keeps its last `rows`).
  func copy(positionsFrom start: Int, into block: UnsafeMutableRawPointer, layout: KVBlockLayout) {
    let n = layout.blockSize
    precondition(start >= 0 && start + n <= count, "positions not computed yet")
    let width = hidden * format.bytesPerElement
    for (l, layer) in layers.enumerated() {
      precondition(start >= count - layer.rows, "positions already dropped from a local layer's ring")
      let base = block + l * layout.layerBytes
      for j in start ..< start + n {
        let row = j % layer.rows
        let i = j - start
        (base + layout.keysOffset + i * width).copyMemory(from: layer.keys + row * width, byteCount: width)
        (base + layout.valuesOffset + i * width).copyMemory(
          from: layer.values + row * width,
          byteCount: width
        )
        if let keyScales = layer.keyScales, let valueScales = layer.valueScales {
          (base + layout.keyScalesOffset + i * heads * 2).copyMemory(
            from: keyScales + row * heads,
            byteCount: heads * 2
          )
          (base + layout.valueScalesOffset + i * heads * 2).copyMemory(
            from: valueScales + row * heads,
            byteCount: heads * 2
          )
        }
      }
    }
  }

  /// Fills an empty cache with the positions `0 ..< blocks.count · blockSize` from `blocks`
  /// (consecutive, each laid out as `layout` says); a local layer takes only what its ring holds.
  /// - Parameter following: the positions the next pass will add (the rest of the prompt, at
  ///   most): each layer is laid out for them now, while it is empty, so that the next
  ///   ``reserve(_:)`` need not move the loaded positions into a larger ring.
  func load(blocks: [UnsafeRawPointer], layout: KVBlockLayout, following: Int = 0) {
    precondition(count == 0, "a prefix is loaded into an empty cache")
    let n = layout.blockSize
    let m = blocks.count * n
    guard m > 0 else { return }
    precondition(m <= limit, "prefix longer than the context")
    let width = hidden * format.bytesPerElement
    let next = max(0, min(following, limit - m))
    for l in layers.indices {
      let window = layers[l].window
      // What reserve(next) would ask for after the load, as in reserve(_:).
      let needed = window == 0 ? m + next : max(min(m, window), min(m + next, window + max(next, 1) - 1))
      if layers[l].rows < needed { relayout(l, rows: needed) }
      let layer = layers[l]
      for j in max(0, m - layer.rows) ..< m {
        let row = j % layer.rows
        let base = blocks[j / n] + l * layout.layerBytes
        let i = j % n
        (layer.keys + row * width).copyMemory(from: base + layout.keysOffset + i * width, byteCount: width)
        (layer.values + row * width).copyMemory(
          from: base + layout.valuesOffset + i * width,
          byteCount: width
        )
        if let keyScales = layer.keyScales, let valueScales = layer.valueScales {
          UnsafeMutableRawPointer(keyScales + row * heads).copyMemory(
            from: base + layout.keyScalesOffset + i * heads * 2,
            byteCount: heads * 2
          )
          UnsafeMutableRawPointer(valueScales + row * heads).copyMemory(
            from: base + layout.valueScalesOffset + i * heads * 2,
            byteCount: heads * 2
          )
        }
      }
    }
    count = m
    computed = m
  }

  /// Moves layer `l` into `rows` rows, keeping the positions it holds that still fit (the last
  /// `min(count, rows)`), each at its row in the new ring.
  private func relayout(_ l: Int, rows: Int) {
    let old = layers[l]
    let fresh = Layer(window: old.window, rows: rows, hidden: hidden, heads: heads, format: format)
    let width = hidden * format.bytesPerElement
    for j in max(0, count - min(old.rows, rows)) ..< count {
      let from = j % old.rows
      let to = j % rows
      (fresh.keys + to * width).copyMemory(from: old.keys + from * width, byteCount: width)
      (fresh.values + to * width).copyMemory(from: old.values + from * width, byteCount: width)
      if let keyScales = old.keyScales, let valueScales = old.valueScales {
        (fresh.keyScales! + to * heads).update(from: keyScales + from * heads, count: heads)
        (fresh.valueScales! + to * heads).update(from: valueScales + from * heads, count: heads)
      }
    }
    old.release()
    layers[l] = fresh
  }
}
