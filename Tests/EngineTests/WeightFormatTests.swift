import Foundation
import Testing

@testable import Engine

/// float16 and int8 weights: what they keep exactly, and how close the rest stays.
@Suite struct WeightFormatTests {
  static func load(_ name: String, _ format: WeightFormat, threads: Int = 2) throws -> GPTNeoModel {
    try GPTNeoModel.load(
      directory: Fixtures.directory(name),
      options: .init(threads: threads, weightFormat: format)
    )
  }

  static func allLogits(_ model: GPTNeoModel, _ tokens: [Int]) throws -> [Float] {
    let hidden = try model.forward(tokens: tokens, cache: model.makeCache())
    return model.logits(hidden: hidden, rows: 0 ..< tokens.count)
  }

  @Test func float16CheckpointKeptAsHalvesGivesTheFloat32Results() throws {
    // The checkpoint is float16 on disk: kept as halves, it computes exactly what float32
    // computes on the same values upcast (transformers' reference runs upcast to float32 too).
    let name = "tiny-local-first-f16-sharded"
    let half = try Self.load(name, .float16)
    let full = try Self.load(name, .float32)
    #expect(half.weightFormat == .float16)
    #expect(half.weights.wte.format == .float16 && half.weights.layers[0].fcWeight.format == .float16)
    #expect(half.weightBytes < full.weightBytes * 6 / 10)
    let tokens = try Fixtures.reference(name).prompts[0].token_ids
    #expect(try Self.allLogits(half, tokens) == Self.allLogits(full, tokens))
    // And the greedy tokens of transformers.
    let greedy = try Fixtures.reference(name).greedy[0]
    let generator = TextGenerator(
      model: half,
      tokenizer: try GPT2Tokenizer.load(directory: Fixtures.directory("gpt2-vocab"))
    )
    let result = try generator.generate(
      promptTokens: greedy.prompt_token_ids,
      parameters: .init(maxNewTokens: greedy.token_ids.count, stopAtEndOfText: false)
    )
    #expect(result.tokenIds == greedy.token_ids)
  }

  @Test(arguments: [WeightFormat.float16, .int8], [1, 2])
  func reducedPrecisionStaysCloseToFloat32(format: WeightFormat, threads: Int) throws {
    let name = "gpt2-vocab"
    let reduced = try Self.load(name, format, threads: threads)
    let full = try Self.load(name, .float32)
    #expect(reduced.weightFormat == format)
    let tokens = try Fixtures.reference(name).prompts[0].token_ids
    let a = try Self.allLogits(reduced, tokens)
    let b = try Self.allLogits(full, tokens)
    let scale = b.map(abs).max()!
    let worst = zip(a, b).map { abs($0 - $1) }.max()!
    // Relative to the largest logit: float16 rounds weights to 11 bits, int8 to 8 bits per row.
    #expect(worst / scale < (format == .float16 ? 2e-3 : 3e-2), "worst \(worst) of \(scale)")
  }

  @Test func int8PerplexityOnTheCurriculaIsWithinTwoPercent() throws {
    let name = "gpt2-vocab"
    let tokenizer = try GPT2Tokenizer.load(directory: Fixtures.directory(name))
    let lesson = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
      .appendingPathComponent("curricula/photosynthesis/lessons")
    let files = try FileManager.default.contentsOfDirectory(atPath: lesson.path).sorted().prefix(2)
    // The lessons' prose, without their front matter (YAML the model never reads as such).
    let text = try files.map { file in
      let whole = try String(contentsOf: lesson.appendingPathComponent(file), encoding: .utf8)
      return whole.components(separatedBy: "\n---\n").dropFirst().joined(separator: "\n---\n")
    }
    .joined(separator: "\n")
    let tokens = Array(tokenizer.encode(text).prefix(600))
    let full = try Self.load(name, .float32).perplexity(tokens: tokens)
    let quantized = try Self.load(name, .int8).perplexity(tokens: tokens)
    #expect(
      abs(quantized.perplexity / full.perplexity - 1) < 0.02,
      "\(quantized.perplexity) vs \(full.perplexity)"
    )
    #expect(quantized.perplexity != full.perplexity, "the int8 path was taken")
  }

  @Test func batchedEqualsAloneWithReducedWeights() throws {
    for format in [WeightFormat.float16, .int8] {
      let model = try Self.load("gpt2-vocab", format)
      let a = [50, 60, 70, 80, 90]
      let b = [1000, 2000]
      let alone = try Self.allLogits(model, a)
      let cacheA = model.makeCache()
      let cacheB = model.makeCache()
      let hidden = try model.forward(batch: [(a, cacheA), (b, cacheB)])
      let together = model.logits(hidden: hidden, rows: 0 ..< a.count)
      #expect(together == alone, "\(format)")
    }
  }
}
