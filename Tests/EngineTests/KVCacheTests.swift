import Foundation
import Testing

@testable import Engine

/// The KV cache: local layers keep only their window (in a ring), and float16/int8 caches trade a
/// little precision for a half or a quarter of the memory.
@Suite struct KVCacheTests {
  /// A random model with a short window, so that rings wrap many times within its context.
  static func windowedModel(
    threads: Int = 2,
    format: KVCacheFormat = .float32
  ) throws -> (GPTNeoModel, cleanUp: () -> Void) {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("gptneo-kv-\(UUID().uuidString)")
    let configuration = GPTNeoConfiguration(
      vocabSize: 512,
      maxPositionEmbeddings: 96,
      hiddenSize: 64,
      numLayers: 3,
      numHeads: 4,
      windowSize: 8,
      attentionLayers: [.local, .global, .local]
    )
    try GPTNeoModel.writeRandomCheckpoint(
      configuration: configuration,
      tokenizerDirectory: Fixtures.directory("tiny-bf16"),
      seed: 11,
      to: directory
    )
    let model = try GPTNeoModel.load(
      directory: directory,
      options: .init(threads: threads, kvCacheFormat: format)
    )
    return (model, { try? FileManager.default.removeItem(at: directory) })
  }

  static let tokens = (0 ..< 80).map { (13 + 37 * $0) % 512 }

  /// Hidden states of `tokens` fed in chunks of the given sizes (the last repeats).
  static func hidden(_ model: GPTNeoModel, chunks: [Int], cache: KVCache? = nil) throws -> [Float] {
    let cache = cache ?? model.makeCache(capacity: 2)
    var out: [Float] = []
    var position = 0
    var sizes = chunks[...]
    while position < tokens.count {
      let size = sizes.count > 1 ? sizes.removeFirst() : sizes.first!
      let end = min(tokens.count, position + size)
      out += try model.forward(tokens: tokens[position ..< end], cache: cache)
      position = end
    }
    return out
  }

  @Test(arguments: [1, 2])
  func float32RingGivesTheSameBitsWhateverTheChunking(threads: Int) throws {
    let (model, cleanUp) = try Self.windowedModel(threads: threads)
    defer { cleanUp() }
    let whole = try Self.hidden(model, chunks: [Self.tokens.count])
    // Uneven chunks: the local ring grows past the window for the long ones, wraps, and drops
    // back to the window when single tokens follow.
    #expect(try Self.hidden(model, chunks: [1, 3, 1, 2, 7, 20, 1, 1, 9, 1]) == whole)
    #expect(try Self.hidden(model, chunks: [1]) == whole)
    #expect(try Self.hidden(model, chunks: [5]) == whole)
  }

  @Test func localLayersKeepOnlyTheirWindowOnceDecoding() throws {
    let (model, cleanUp) = try Self.windowedModel()
    defer { cleanUp() }
    let cache = model.makeCache(capacity: 96)
    _ = try model.forward(tokens: Self.tokens[0 ..< 40], cache: cache)
    // A 40-token pass needs every row it wrote: the ring is 40 rows long (window + 40 - 1 > 40).
    #expect(cache.layers.map(\.rows) == [40, 96, 40])
    _ = try model.forward(tokens: Self.tokens[40 ..< 41], cache: cache)
    #expect(cache.layers.map(\.rows) == [8, 96, 8])
    _ = try model.forward(tokens: Self.tokens[41 ..< 53], cache: cache)
    #expect(cache.layers.map(\.rows) == [8 + 12 - 1, 96, 8 + 12 - 1])
  }

  @Test func aCancelledPassLeavesEveryRowTheNextPassNeeds() throws {
    let (model, cleanUp) = try Self.windowedModel()
    defer { cleanUp() }
    func prefill(_ cache: KVCache) throws {
      _ = try model.forward(tokens: Self.tokens[0 ..< 29], cache: cache)
      _ = try model.forward(tokens: Self.tokens[29 ..< 30], cache: cache)
    }
    let cache = model.makeCache(capacity: 2)
    try prefill(cache)
    #expect(cache.layers[0].rows == 8)
    // Cancelled after the first (local) layer has written positions 30..34 into its ring, which
    // grew to 8 + 5 - 1 rows: they overwrote positions 18..22, and the next query (30) sees 23..30.
    var polls = 0
    #expect(throws: CancellationError.self) {
      try model.forward(tokens: Self.tokens[30 ..< 35], cache: cache) {
        polls += 1
        return polls > 1
      }
    }
    #expect(cache.count == 30 && cache.layers[0].rows == 12)
    let resumed = try model.forward(tokens: Self.tokens[30 ..< 35], cache: cache)
    let fresh = model.makeCache(capacity: 2)
    try prefill(fresh)
    #expect(try model.forward(tokens: Self.tokens[30 ..< 35], cache: fresh) == resumed)
  }

  @Test func memoryOfA1024PositionCacheOfThe125MShape() throws {
    let shape = GPTNeoConfiguration(
      vocabSize: 50257,
      maxPositionEmbeddings: 2048,
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      windowSize: 256
    )
    func bytes(_ format: KVCacheFormat) -> Int {
      KVCache(configuration: shape, capacity: 1024, format: format).allocatedBytes
    }
    // Six global layers hold 1024 positions, six local ones their 256-position window; keys and
    // values each.
    let positions = 6 * 1024 + 6 * 256
    #expect(bytes(.float32) == positions * 2 * 768 * 4)
    #expect(bytes(.float16) == positions * 2 * 768 * 2)
    #expect(bytes(.int8) == positions * 2 * (768 + 12 * 2))
    #expect(bytes(.int8) < 12_200_000)
  }

  @Test(arguments: [KVCacheFormat.float16, .int8])
  func reducedCachesStayCloseToFloat32(format: KVCacheFormat) throws {
    let name = "gpt2-vocab"
    let tokens = try Fixtures.reference(name).prompts[0].token_ids
    func logits(_ format: KVCacheFormat) throws -> [Float] {
      let model = try GPTNeoModel.load(
        directory: Fixtures.directory(name),
        options: .init(threads: 2, kvCacheFormat: format)
      )
      #expect(model.makeCache().format == format)
      return try WeightFormatTests.allLogits(model, tokens)
    }
    let a = try logits(format)
    let b = try logits(.float32)
    let scale = b.map(abs).max()!
    let worst = zip(a, b).map { abs($0 - $1) }.max()!
    #expect(worst > 0, "the \(format) cache was used")
    #expect(worst / scale < (format == .float16 ? 1e-3 : 1e-2), "worst \(worst) of \(scale)")
  }

  @Test(arguments: KVCacheFormat.allCases)
  func batchedEqualsAloneWithEveryCacheFormat(format: KVCacheFormat) throws {
    let (model, cleanUp) = try Self.windowedModel(format: format)
    defer { cleanUp() }
    let a = Array(Self.tokens[0 ..< 30])
    let b = Array(Self.tokens[30 ..< 33])
    let alone = try model.forward(tokens: a, cache: model.makeCache())
    let hidden = try model.forward(batch: [(b, model.makeCache()), (a, model.makeCache())])
    #expect(Array(hidden[(b.count * 64)...]) == alone)
  }

  /// The bundled model is a trained one, so its perplexity means something: an int8 cache keeps
  /// it within 2% (the bar the int8 weights meet), a float16 one within 0.1%.
  @Test(arguments: [KVCacheFormat.float16, .int8])
  func perplexityOnTheCurriculaWithAReducedCache(format: KVCacheFormat) throws {
    let tokenizer = try GPT2Tokenizer.load(directory: BundledModelTests.directory)
    let lessons = BundledModelTests.directory.deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("curricula/fractions-ratios/lessons")
    let files = try FileManager.default.contentsOfDirectory(atPath: lessons.path).sorted().prefix(3)
    let text = try files.map { try String(contentsOf: lessons.appendingPathComponent($0), encoding: .utf8) }
      .joined(separator: "\n")
    let tokens = Array(tokenizer.encode(text).prefix(1000))
    #expect(tokens.count > 512, "longer than the model's context, so the windows slide")
    func perplexity(_ format: KVCacheFormat) throws -> Double {
      try GPTNeoModel.load(
        directory: BundledModelTests.directory,
        options: .init(threads: 2, kvCacheFormat: format)
      ).perplexity(tokens: tokens).perplexity
    }
    let full = try perplexity(.float32)
    let reduced = try perplexity(format)
    #expect(reduced != full, "the \(format) cache was used")
    #expect(abs(reduced / full - 1) < (format == .float16 ? 1e-3 : 0.02), "\(reduced) vs \(full)")
  }
}
