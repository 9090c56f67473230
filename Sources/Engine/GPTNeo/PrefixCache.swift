import Synchronization

/// Where one position's keys and values of every layer sit in a ``PrefixCache`` block: per layer,
/// `blockSize` rows of keys, then of values, then (int8) their float16 scales — the bytes exactly
/// as a ``KVCache`` holds them.
struct KVBlockLayout {
  let blockSize: Int
  let layerCount: Int
  let rowBytes: Int
  let scaleRowBytes: Int

  init(configuration c: GPTNeoConfiguration, format: KVCacheFormat, blockSize: Int) {
    self.blockSize = blockSize
    layerCount = c.numLayers
    rowBytes = c.hiddenSize * format.bytesPerElement
    scaleRowBytes = format == .int8 ? c.numHeads * MemoryLayout<UInt16>.size : 0
  }

  var keysOffset: Int { 0 }
  var valuesOffset: Int { blockSize * rowBytes }
  var keyScalesOffset: Int { 2 * blockSize * rowBytes }
  var valueScalesOffset: Int { keyScalesOffset + blockSize * scaleRowBytes }
  var layerBytes: Int { 2 * blockSize * (rowBytes + scaleRowBytes) }
  var blockBytes: Int { layerCount * layerBytes }
}

/// Keys and values of token sequences the model has already read, shared by every sequence that
/// starts the same way — the idea of vLLM's automatic prefix caching and SGLang's RadixAttention.
///
/// A tutoring prompt starts with the instructions and the lesson, the same for every student of
/// that lesson, and a session's next prompt repeats much of its last one. A sequence joining the
/// batch takes the keys and values of the longest prefix of its prompt found here instead of
/// computing them, and what it computes (its prompt, then its answer) is added as it goes.
///
/// The tree is a radix tree over token ids at the granularity of blocks of `blockSize` tokens:
/// each node holds one block's keys and values for every layer, its children are keyed by their
/// blocks' tokens, and a path from the root spells a token prefix. Lookups stop at the last whole
/// block, and always leave the prompt's last token to be computed (its logits are needed).
///
/// **Exactness.** A row's keys and values depend only on the tokens up to it: the kernels sum in a
/// fixed order whatever the batch or the chunk, and the bytes copied are the bytes the pass
/// stored (float32, float16 or int8 with their scales). So a sequence that starts from cached
/// blocks computes bit for bit what it would have computed alone; the tests check this for every
/// weight and cache format, with local layers whose window is smaller than the prefix.
///
/// **Memory.** Blocks live until evicted, least recently used first, when a new block would pass
/// `budgetBytes`. Only leaves are evicted, never a node a running sequence has pinned (each
/// sequence pins the deepest node it has reached; its ancestors, having a child, are not leaves).
/// When nothing can be evicted the new block is simply not cached.
///
/// ``BatchedGenerator``'s worker makes every change; `@unchecked Sendable` is sound because every
/// access to the tree, the statistics included, holds `lock`.
public final class PrefixCache: @unchecked Sendable {
  /// What the cache has done so far.
  public struct Statistics: Sendable, Equatable {
    /// Prompts looked up, and their tokens.
    public var lookups = 0
    public var promptTokens = 0
    /// Prompt tokens whose keys and values were taken from the cache instead of computed.
    public var reusedTokens = 0
    /// Blocks held now, and their bytes.
    public var blocks = 0
    public var bytes = 0
    /// Blocks added and evicted since the start.
    public var insertedBlocks = 0
    public var evictedBlocks = 0
  }

  /// Tokens per block.
  public let blockSize: Int
  /// Most bytes of keys and values held.
  public let budgetBytes: Int
  /// Bytes one block takes.
  public var blockBytes: Int { layout.blockBytes }
  let layout: KVBlockLayout
  let format: KVCacheFormat
  private let lock = Mutex(())
  private var tree = Tree()

  /// - Parameters:
  ///   - budgetBytes: the most memory the blocks may take.
  ///   - blockSize: tokens per block; at most the smallest local window (a block must still be in
  ///     a local layer's ring when it is copied), 8 by default.
  public init(model: GPTNeoModel, budgetBytes: Int, blockSize: Int = 8) {
    let c = model.configuration
    let windows = c.attentionLayers.contains(.local) ? c.windowSize : Int.max
    self.blockSize = max(1, min(blockSize, windows))
    self.budgetBytes = max(0, budgetBytes)
    format = model.kvCacheFormat
    layout = KVBlockLayout(configuration: c, format: format, blockSize: self.blockSize)
  }

  private func withTree<T>(_ body: (inout Tree) -> T) -> T {
    lock.withLock { _ in body(&tree) }
  }

  /// A default budget for `model`: room for 4,096 positions (two full 2,048-token contexts, or a
  /// dozen lessons' prompts), at least 32 MiB and at most 2 GiB — 48 MiB for the bundled model,
  /// 288 MiB for the 125M shape and 1.5 GiB for the 1.3B shape with a float32 KV cache, a
  /// quarter of that with int8. Measured: with an eighth of the 125M shape's weights (60 MiB, 850
  /// positions) a class of 20 over 3 lessons reused 45% of its prompt tokens; with 256 MiB, 66%.
  public static func defaultBudget(for model: GPTNeoModel) -> Int {
    let c = model.configuration
    let perPosition = c.numLayers * 2 * c.hiddenSize * model.kvCacheFormat.bytesPerElement
    return min(max(4096 * perPosition, 32 << 20), 2 << 30)
  }

  public var statistics: Statistics {
    withTree { tree in
      var s = tree.statistics
      s.blocks = tree.nodes.count
      s.bytes = tree.nodes.count * layout.blockBytes
      return s
    }
  }

  /// A sequence's place in the tree: the deepest node it has reached (pinned), and the tokens it
  /// has fed its cache so far.
  /// Dropping the cursor ends the sequence's use of the tree (its node may be evicted again).
  final class Cursor {
    private let owner: PrefixCache
    fileprivate var node: Node
    var fed: [Int]
    /// Set when a block could not be cached: the sequence adds nothing more.
    fileprivate var stopped = false

    fileprivate init(owner: PrefixCache, node: Node, fed: [Int]) {
      self.owner = owner
      self.node = node
      self.fed = fed
    }

    deinit {
      let node = node
      owner.withTree { _ in node.pins -= 1 }
    }
  }

  /// Loads the longest cached prefix of `prompt` (whole blocks, leaving at least its last token)
  /// into the empty `cache` and returns the cursor that follows the sequence from there; its `fed`
  /// holds the tokens loaded.
  func attach(prompt: [Int], cache: KVCache) -> Cursor {
    precondition(cache.format == format, "the cache's format differs from the prefix cache's")
    return withTree { tree in
      tree.statistics.lookups += 1
      tree.statistics.promptTokens += prompt.count
      var node = tree.root
      var blocks: [UnsafeRawPointer] = []
      let usable = (prompt.count - 1) / blockSize
      while blocks.count < usable {
        let start = blocks.count * blockSize
        guard let child = node.children[Array(prompt[start ..< start + blockSize])] else { break }
        node = child
        tree.touch(node)
        blocks.append(UnsafeRawPointer(child.storage!))
      }
      // The rest of the prompt follows (in one pass or several): room for it now saves moving
      // the loaded positions into a larger ring when the pass reserves it.
      cache.load(blocks: blocks, layout: layout, following: prompt.count - blocks.count * blockSize)
      tree.statistics.reusedTokens += blocks.count * blockSize
      node.pins += 1
      return Cursor(owner: self, node: node, fed: Array(prompt.prefix(blocks.count * blockSize)))
    }
  }

  /// Records that `tokens` were just fed to `cache` (which now holds `cursor.fed + tokens`) and
  /// caches every block they complete.
  func advance(_ cursor: Cursor, fed tokens: [Int], cache: KVCache) {
    cursor.fed += tokens
    guard !cursor.stopped else { return }
    withTree { tree in
      while (cursor.node.depth + 1) * blockSize <= cursor.fed.count {
        let start = cursor.node.depth * blockSize
        let key = Array(cursor.fed[start ..< start + blockSize])
        let next: Node
        if let existing = cursor.node.children[key] {
          next = existing
        } else {
          guard tree.makeRoom(for: layout.blockBytes, budget: budgetBytes) else {
            cursor.stopped = true
            return
          }
          next = Node(tokens: key, parent: cursor.node, byteCount: layout.blockBytes)
          cache.copy(positionsFrom: start, into: next.storage!, layout: layout)
          cursor.node.children[key] = next
          tree.nodes[ObjectIdentifier(next)] = next
          tree.statistics.insertedBlocks += 1
        }
        tree.touch(next)
        next.pins += 1
        cursor.node.pins -= 1
        cursor.node = next
      }
    }
  }

  /// Drops every block no sequence is using.
  public func clear() {
    withTree { tree in
      while tree.evictOne() {}
    }
  }
}

private final class Node {
  let tokens: [Int]
  unowned(unsafe) let parent: Node?
  let depth: Int
  var children: [[Int]: Node] = [:]
  /// One block of keys and values (nil for the root).
  let storage: UnsafeMutableRawPointer?
  let byteCount: Int
  var pins = 0
  var lastUse: UInt64 = 0

  init(tokens: [Int], parent: Node?, byteCount: Int) {
    self.tokens = tokens
    self.parent = parent
    depth = (parent?.depth ?? -1) + 1
    self.byteCount = byteCount
    storage = byteCount > 0 ? PageMemory.allocate(byteCount: byteCount) : nil
  }

  deinit {
    if let storage { PageMemory.release(storage, byteCount: byteCount) }
  }
}

private struct Tree {
  /// The empty prefix; its depth is 0, so its children hold positions `0 ..< blockSize`.
  let root = Node(tokens: [], parent: nil, byteCount: 0)
  /// Every node but the root.
  var nodes: [ObjectIdentifier: Node] = [:]
  var clock: UInt64 = 0
  var statistics = PrefixCache.Statistics()

  mutating func touch(_ node: Node) {
    clock += 1
    node.lastUse = clock
  }

  /// Evicts least recently used leaves until `bytes` more fit in `budget`; false if they cannot.
  mutating func makeRoom(for bytes: Int, budget: Int) -> Bool {
    guard bytes <= budget else { return false }
    while (nodes.count + 1) * bytes > budget {
      guard evictOne() else { return false }
    }
    return true
  }

  /// Evicts the least recently used leaf that no sequence pins; false if there is none.
  mutating func evictOne() -> Bool {
    var victim: Node?
    for node in nodes.values where node.children.isEmpty && node.pins == 0 {
      if victim == nil || node.lastUse < victim!.lastUse { victim = node }
    }
    guard let victim, let parent = victim.parent else { return false }
    parent.children[victim.tokens] = nil
    nodes[ObjectIdentifier(victim)] = nil
    statistics.evictedBlocks += 1
    return true
  }
}
