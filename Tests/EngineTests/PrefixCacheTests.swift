import Foundation
import Testing

@testable import Engine

/// A prefix cache changes where keys and values come from, never what is computed: outputs are bit
/// for bit those of a sequence computed whole, for every weight and cache format, with local
/// layers whose window is shorter than the shared prefix.
@Suite struct PrefixCacheTests {
  /// Fixtures with a local layer first or second, windows of 8, 5 and 16 positions.
  static let models = ["tiny-global-first", "tiny-local-first-f16-sharded", "gpt2-vocab"]

  static let lesson = """
    You are a patient tutor. Lesson: adding fractions with different denominators. \
    Objectives: find a common denominator; add the numerators.
    """
  static let questions = [
    "\nStudent: what is a denominator?\nTutor:",
    "\nStudent: how do I add 1/2 and 1/3?\nTutor:",
    "\nStudent: why can't I just add the bottoms together\nTutor:",
  ]

  static func generator(_ name: String, weights: WeightFormat, kv: KVCacheFormat) throws -> TextGenerator {
    let model = try GPTNeoModel.load(
      directory: Fixtures.directory(name),
      options: .init(threads: 2, weightFormat: weights, kvCacheFormat: kv)
    )
    return TextGenerator(
      model: model,
      tokenizer: try GPT2Tokenizer.load(directory: Fixtures.directory("gpt2-vocab"))
    )
  }

  /// `text`'s GPT-2 ids, folded into the model's vocabulary (the tiny fixtures have 512 tokens).
  static func ids(_ generator: TextGenerator, _ text: String) -> [Int] {
    generator.encode(prompt: text).map { $0 % generator.model.configuration.vocabSize }
  }

  static func parameters(_ i: Int) -> GenerationParameters {
    i % 2 == 0
      ? GenerationParameters(maxNewTokens: 14, stopAtEndOfText: false)
      : GenerationParameters(
        maxNewTokens: 14,
        temperature: 0.9,
        topK: 40,
        seed: UInt64(i),
        stopAtEndOfText: false
      )
  }

  /// Runs `prompts` together through `batcher` and returns each one's generated ids.
  static func run(_ batcher: BatchedGenerator, _ prompts: [[Int]]) async throws -> [[Int]] {
    try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
      for (i, prompt) in prompts.enumerated() {
        let stream = batcher.stream(promptTokens: prompt, parameters: parameters(i))
        group.addTask {
          let (_, result) = try await BatchingTests.collect(stream)
          return (i, try #require(result).tokenIds)
        }
      }
      var out = [[Int]](repeating: [], count: prompts.count)
      for try await (i, ids) in group { out[i] = ids }
      return out
    }
  }

  @Test(arguments: models, WeightFormat.allCases)
  func cachedPrefixesGiveTheTokensOfWholePrompts(model name: String, weights: WeightFormat) async throws {
    for kv in KVCacheFormat.allCases {
      let generator = try Self.generator(name, weights: weights, kv: kv)
      let prefixCache = PrefixCache(model: generator.model, budgetBytes: 64 << 20)
      // A small chunk, so that prompts are read over several steps, while other sequences decode.
      let batcher = BatchedGenerator(
        generator: generator,
        maxBatchSize: 3,
        prefillChunk: 7,
        prefixCache: prefixCache
      )
      defer { batcher.stop() }
      let lesson = Self.ids(generator, Self.lesson)
      #expect(lesson.count > 3 * prefixCache.blockSize, "the shared prefix spans several blocks and windows")
      // Round 1: three students of the same lesson; round 2: each one's next turn repeats the
      // previous prompt and answer, then asks again.
      var prompts = Self.questions.map { lesson + Self.ids(generator, $0) }
      for round in 0 ..< 2 {
        let expected = try prompts.indices.map { i in
          try generator.generate(promptTokens: prompts[i], parameters: Self.parameters(i)).tokenIds
        }
        let before = prefixCache.statistics
        let got = try await Self.run(batcher, prompts)
        let stats = prefixCache.statistics
        #expect(got == expected, "\(name) \(weights) \(kv) round \(round)")
        let reused = stats.reusedTokens - before.reusedTokens
        // The first prompt of round 1 finds nothing; the ones admitted with it may not either.
        if round == 1 {
          #expect(reused >= prompts.map(\.count).reduce(0, +) / 2, "\(name) \(kv): \(stats)")
        }
        prompts = prompts.indices.map { i in
          prompts[i] + got[i] + Self.ids(generator, "\nStudent: and then?\nTutor:")
        }
      }
      // A lone latecomer of the same lesson takes the whole lesson from the cache.
      let late = lesson + Self.ids(generator, "\nStudent: is 2/4 the same as 1/2\nTutor:")
      let before = prefixCache.statistics.reusedTokens
      let got = try await Self.run(batcher, [late])
      #expect(got[0] == (try generator.generate(promptTokens: late, parameters: Self.parameters(0)).tokenIds))
      #expect(
        prefixCache.statistics.reusedTokens - before >= lesson.count / prefixCache.blockSize
          * prefixCache.blockSize - prefixCache.blockSize
      )
    }
  }

  /// The hidden states of the rows after a cached prefix equal, bit for bit, those of the prompt
  /// run whole in one pass.
  @Test(arguments: models)
  func hiddenStatesAfterACachedPrefixAreExact(model name: String) throws {
    for kv in KVCacheFormat.allCases {
      let model = try GPTNeoModel.load(
        directory: Fixtures.directory(name),
        options: .init(threads: 2, kvCacheFormat: kv)
      )
      let prefixCache = PrefixCache(model: model, budgetBytes: 16 << 20)
      let vocabulary = model.configuration.vocabSize
      let first = (0 ..< 50).map { (1000 + 7919 * $0) % vocabulary }
      let second = Array(first.prefix(37)) + (0 ..< 20).map { (77 + 131 * $0) % vocabulary }
      // The first prompt is read in chunks of 6 and cached as it goes.
      let cacheA = model.makeCache()
      let cursorA = prefixCache.attach(prompt: first, cache: cacheA)
      for start in stride(from: 0, to: first.count, by: 6) {
        let chunk = Array(first[start ..< min(start + 6, first.count)])
        _ = try model.forward(tokens: chunk, cache: cacheA)
        prefixCache.advance(cursorA, fed: chunk, cache: cacheA)
      }
      // The second shares 37 tokens: whole blocks of them come from the cache.
      let cacheB = model.makeCache()
      let cursorB = prefixCache.attach(prompt: second, cache: cacheB)
      let reused = cursorB.fed.count
      #expect(reused == 37 / prefixCache.blockSize * prefixCache.blockSize && reused > 0)
      // The load laid every layer out for the rest of the prompt: the pass that reads it moves no
      // loaded position into a larger ring (a local layer's window is shorter than the prefix).
      let loadedAt = cacheB.layers.map(\.keys)
      let tail = try model.forward(tokens: Array(second[reused...]), cache: cacheB)
      #expect(cacheB.layers.map(\.keys) == loadedAt, "\(name) \(kv): a layer was moved after the load")
      let whole = try model.forward(tokens: second, cache: model.makeCache())
      let h = model.configuration.hiddenSize
      let expected = Array(whole[(reused * h)...])
      let differing = zip(tail, expected).filter { $0.0.bitPattern != $0.1.bitPattern }.count
      #expect(tail.count == expected.count && differing == 0, "\(name) \(kv): \(differing) values differ")
      withExtendedLifetime(cursorA) {}
    }
  }

  /// Least recently used leaves go first; a node a running sequence pins is never evicted; when
  /// nothing can be evicted, the block is not cached and nothing breaks.
  @Test func evictionIsLeastRecentlyUsedAndSparesPinnedNodes() throws {
    let model = try Fixtures.model("gpt2-vocab")
    let probe = PrefixCache(model: model, budgetBytes: 1 << 20)
    let b = probe.blockSize
    // Room for exactly four blocks.
    let prefixCache = PrefixCache(model: model, budgetBytes: 4 * probe.blockBytes)
    func feed(_ tokens: [Int]) throws -> PrefixCache.Cursor {
      let cache = model.makeCache()
      let cursor = prefixCache.attach(prompt: tokens, cache: cache)
      let rest = Array(tokens[cursor.fed.count...])
      _ = try model.forward(tokens: rest, cache: cache)
      prefixCache.advance(cursor, fed: rest, cache: cache)
      return cursor
    }
    let a = (0 ..< 2 * b).map { 100 + $0 }
    let c = (0 ..< 2 * b).map { 500 + $0 }
    do {
      let cursorA = try feed(a + [1])
      #expect(prefixCache.statistics.blocks == 2)
      _ = try feed(c + [1])  // released at once
      #expect(prefixCache.statistics.blocks == 4)
      // Budget full; A is pinned (its cursor lives), C is not: a third prompt evicts C's blocks.
      let d = (0 ..< 2 * b).map { 900 + $0 }
      _ = try feed(d + [1])
      let stats = prefixCache.statistics
      #expect(stats.blocks == 4 && stats.evictedBlocks == 2, "\(stats)")
      #expect(
        prefixCache.attach(prompt: a + [1], cache: model.makeCache()).fed.count == 2 * b,
        "pinned A kept"
      )
      #expect(prefixCache.attach(prompt: c + [1], cache: model.makeCache()).fed.count == 0, "C evicted")
      withExtendedLifetime(cursorA) {}
    }
    // Nothing pinned now. A was used last (the lookup above), D before it: D's leaf goes first.
    let e = (0 ..< b).map { 1300 + $0 }
    _ = try feed(e + [1])
    let d = (0 ..< 2 * b).map { 900 + $0 }
    #expect(prefixCache.attach(prompt: d + [1], cache: model.makeCache()).fed.count == b, "D lost its leaf")
    #expect(prefixCache.attach(prompt: a + [1], cache: model.makeCache()).fed.count == 2 * b, "A kept")
    // A budget smaller than one block caches nothing, and generation still works.
    let none = PrefixCache(model: model, budgetBytes: probe.blockBytes - 1)
    let cache = model.makeCache()
    let cursor = none.attach(prompt: a + [1], cache: cache)
    _ = try model.forward(tokens: a + [1], cache: cache)
    none.advance(cursor, fed: a + [1], cache: cache)
    #expect(none.statistics.blocks == 0)
  }
}
