import Foundation
import Testing

@testable import Engine

/// Prompt-lookup decoding verifies drafts in one pass and keeps only what one-at-a-time decoding
/// would have picked: the tokens, text and finish reasons are those of plain decoding, greedy and
/// sampled, for every weight and cache format, alone, batched and with the prefix cache.
@Suite struct PromptLookupTests {
  /// Prompts whose continuation repeats what came before (as answers quote the notes), so drafts
  /// are found and some accepted.
  static let prompts = [
    "The leaf makes sugar. The leaf makes sugar. The leaf makes sugar. The leaf",
    "Notes: a fraction has a numerator and a denominator.\nStudent: what has a numerator?\nTutor: a fraction has a",
    "1 2 3 4 5 6 1 2 3 4 5 6 1 2 3",
    "print(x) print(x) print(",
  ]

  static func parameters(_ i: Int) -> GenerationParameters {
    switch i % 3 {
    case 0: GenerationParameters(maxNewTokens: 40, stopAtEndOfText: false)
    case 1: GenerationParameters(maxNewTokens: 40, temperature: 0.8, topK: 20, seed: UInt64(7 + i))
    default: GenerationParameters(maxNewTokens: 40, repetitionPenalty: 1.2, stopSequences: ["\n"])
    }
  }

  static func run(_ batcher: BatchedGenerator, _ prompts: [[Int]]) async throws -> [GenerationResult] {
    try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
      for (i, prompt) in prompts.enumerated() {
        let stream = batcher.stream(promptTokens: prompt, parameters: parameters(i))
        group.addTask {
          let (text, result) = try await BatchingTests.collect(stream)
          let r = try #require(result)
          #expect(text == r.text, "streamed pieces add up to the text")
          return (i, r)
        }
      }
      var out: [Int: GenerationResult] = [:]
      for try await (i, r) in group { out[i] = r }
      return try prompts.indices.map { try #require(out[$0]) }
    }
  }

  @Test(arguments: PrefixCacheTests.models, WeightFormat.allCases)
  func draftsChangeNothing(model name: String, weights: WeightFormat) async throws {
    var drafted = 0
    var accepted = 0
    for kv in KVCacheFormat.allCases {
      let generator = try PrefixCacheTests.generator(name, weights: weights, kv: kv)
      let prompts = Self.prompts.map { PrefixCacheTests.ids(generator, $0) }
      let expected = try prompts.indices.map {
        try generator.generate(promptTokens: prompts[$0], parameters: Self.parameters($0))
      }
      // Alone (the whole speculation budget for one sequence), then all at once, then with the
      // prefix cache as well.
      for (batchSize, cached) in [(1, false), (4, false), (4, true)] {
        let batcher = BatchedGenerator(
          generator: generator,
          maxBatchSize: batchSize,
          prefillChunk: 16,
          prefixCache: cached ? PrefixCache(model: generator.model, budgetBytes: 8 << 20) : nil,
          promptLookup: .init(draftTokens: 8, stepRows: 24)
        )
        defer { batcher.stop() }
        let got = try await Self.run(batcher, prompts)
        for i in prompts.indices {
          let context = "\(name) \(weights) \(kv) batch \(batchSize) cached \(cached) prompt \(i)"
          #expect(got[i].tokenIds == expected[i].tokenIds, "\(context)")
          #expect(got[i].text == expected[i].text, "\(context)")
          #expect(got[i].finishReason == expected[i].finishReason, "\(context)")
        }
        drafted += batcher.statistics.drafted
        accepted += batcher.statistics.accepted
      }
    }
    #expect(
      accepted > 0 && drafted > accepted,
      "\(name) \(weights): \(accepted) of \(drafted) draft tokens accepted"
    )
  }

  /// A draft is cut to the room left in the context: generation ends at the context limit exactly
  /// where plain decoding does.
  @Test func draftsStopAtTheContextLimit() async throws {
    let generator = try GenerationTests.generator("gpt2-vocab")  // 96 positions
    let prompt = Array(repeating: PrefixCacheTests.ids(generator, "one two three four"), count: 20).joined()
      .prefix(80)
    let parameters = GenerationParameters(maxNewTokens: 64, stopAtEndOfText: false)
    let expected = try generator.generate(promptTokens: Array(prompt), parameters: parameters)
    let batcher = BatchedGenerator(generator: generator, promptLookup: .init(draftTokens: 16))
    defer { batcher.stop() }
    let (_, result) = try await BatchingTests.collect(
      batcher.stream(promptTokens: Array(prompt), parameters: parameters)
    )
    let r = try #require(result)
    #expect(r.tokenIds == expected.tokenIds && r.finishReason == expected.finishReason)
    #expect(r.finishReason == .length && 80 + r.tokenIds.count == 97, "\(r.tokenIds.count)")
    #expect(batcher.statistics.accepted > 0)
  }

  /// The draft is what followed the latest earlier occurrence of the longest matching n-gram.
  @Test func draftsComeFromTheLatestMatch() throws {
    let generator = try GenerationTests.generator("gpt2-vocab")
    let prompt = [5, 6, 7, 1, 2, 5, 6, 8, 9, 3, 5, 6]
    let sequence = try GenerationSequence(
      model: generator.model,
      tokenizer: generator.tokenizer,
      promptTokens: prompt,
      parameters: GenerationParameters(maxNewTokens: 20)
    )
    // While the prompt is unread there is nothing to draft.
    #expect(sequence.draft(limit: 4, ngram: 3).isEmpty)
    var ready = sequence
    _ = ready.consumed(prompt.count - 1)  // as if all but the last token were read
    // "5 6" last occurred before "8 9 3 5 6": the draft is what followed it.
    #expect(ready.draft(limit: 3, ngram: 3) == [8, 9, 3])
    #expect(ready.draft(limit: 10, ngram: 3) == [8, 9, 3, 5, 6])
  }
}
