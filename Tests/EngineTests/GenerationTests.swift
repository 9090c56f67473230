import Foundation
import Testing

@testable import Engine

/// Generation, sampling and perplexity against transformers, and the streaming contract.
@Suite struct GenerationTests {
  static func generator(_ name: String) throws -> TextGenerator {
    let dir = Fixtures.directory("gpt2-vocab")
    return TextGenerator(model: try Fixtures.model(name), tokenizer: try GPT2Tokenizer.load(directory: dir))
  }

  @Test(arguments: Fixtures.modelNames)
  func greedyContinuationsMatchTransformers(model name: String) throws {
    let reference = try Fixtures.reference(name)
    let generator = try Self.generator(name)
    for expected in reference.greedy {
      let result = try generator.generate(
        promptTokens: expected.prompt_token_ids,
        parameters: GenerationParameters(maxNewTokens: 64)
      )
      #expect(result.tokenIds.count >= 48)
      #expect(result.tokenIds == expected.token_ids)
      if let text = expected.text {
        #expect(result.text == text)
      }
    }
  }

  @Test(arguments: Fixtures.modelNames)
  func perplexityMatchesTransformersPastTheContextLength(model name: String) throws {
    let reference = try Fixtures.reference(name)
    let expected = try #require(reference.perplexity)
    let model = try Fixtures.model(name)
    let tokens: [Int]
    if let text = expected.text {
      tokens = try GPT2Tokenizer.load(directory: Fixtures.directory(name)).encode(text)
    } else {
      tokens = try #require(expected.token_ids)
    }
    #expect(tokens.count > model.configuration.maxPositionEmbeddings)
    let result = try model.perplexity(tokens: tokens)
    #expect(result.tokens == expected.tokens)
    #expect(
      abs(result.perplexity / expected.perplexity - 1) < 1e-3,
      "\(result.perplexity) vs \(expected.perplexity)"
    )
  }

  @Test(arguments: ["tiny-global-first", "tiny-local-first-f16-sharded", "tiny-bf16"])
  func samplingDistributionsMatchTransformersProcessors(model name: String) throws {
    let reference = try Fixtures.reference(name)
    let sampling = try #require(reference.sampling)
    let model = try Fixtures.model(name)
    let logitsRow = model.logits(
      hidden: try model.forward(tokens: sampling.input_ids, cache: model.makeCache()),
      row: sampling.input_ids.count - 1
    )
    for case let d in sampling.distributions {
      let s = d.settings
      let parameters = GenerationParameters(
        temperature: Float(s.temperature ?? 1),
        topK: s.top_k,
        topP: s.top_p.map(Float.init),
        repetitionPenalty: Float(s.repetition_penalty ?? 1)
      )
      var logits = logitsRow
      TokenSampler(parameters: parameters).applyRepetitionPenalty(&logits, context: sampling.input_ids)
      let probabilities = TokenSampler.distribution(logits: &logits, parameters: parameters)
      var worst = 0.0
      for (a, b) in zip(probabilities, d.probabilities) { worst = max(worst, abs(a - b)) }
      #expect(worst < 1e-4, "settings \(s): largest probability difference \(worst)")
      // Same support: what transformers removed we removed, and the reverse.
      for (ours, theirs) in zip(probabilities, d.probabilities) {
        #expect(ours > 0 || theirs == 0)
        #expect(theirs > 1e-7 ? ours > 0 : true)
      }
    }
  }

  @Test func sameSeedSameOutputAndDrawsFollowTheDistribution() throws {
    let generator = try Self.generator("gpt2-vocab")
    let parameters = GenerationParameters(maxNewTokens: 24, temperature: 1.2, topK: 50, topP: 0.95, seed: 42)
    let a = try generator.generate(prompt: "Photosynthesis is", parameters: parameters)
    let b = try generator.generate(prompt: "Photosynthesis is", parameters: parameters)
    #expect(a.tokenIds == b.tokenIds)
    var other = parameters
    other.seed = 43
    let c = try generator.generate(prompt: "Photosynthesis is", parameters: other)
    #expect(c.tokenIds != a.tokenIds)

    // Empirical frequencies of 20,000 draws against the distribution they come from.
    let probabilities: [Double] = [0.5, 0.3, 0.15, 0.05, 0]
    let logits = probabilities.map { Float(log($0)) }
    var sampler = TokenSampler(parameters: GenerationParameters(temperature: 1, seed: 7))
    var counts = [Int](repeating: 0, count: probabilities.count)
    for _ in 0 ..< 20_000 {
      var l = logits
      counts[sampler.next(logits: &l, context: [])] += 1
    }
    for (i, p) in probabilities.enumerated() {
      #expect(abs(Double(counts[i]) / 20_000 - p) < 0.015, "token \(i): \(counts[i])")
    }
  }

  @Test func topKOfOneIsGreedy() throws {
    let generator = try Self.generator("tiny-global-first")
    let reference = try Fixtures.reference("tiny-global-first")
    let greedy = reference.greedy[0]
    let result = try generator.generate(
      promptTokens: greedy.prompt_token_ids,
      parameters: GenerationParameters(maxNewTokens: 64, temperature: 0.8, topK: 1, seed: 1)
    )
    #expect(result.tokenIds == greedy.token_ids)
  }

  @Test func stopStringsEndTheTextAndAreNotReturned() throws {
    let generator = try Self.generator("gpt2-vocab")
    let reference = try Fixtures.reference("gpt2-vocab")
    let greedy = reference.greedy[0]
    let full = try #require(greedy.text)
    // A stop string taken from the middle of the reference continuation.
    let words = full.split(separator: " ")
    let stop = " " + words[3]
    let expectedText = String(full[..<full.range(of: stop)!.lowerBound])
    var streamed = ""
    let result = try generator.generate(
      promptTokens: greedy.prompt_token_ids,
      parameters: GenerationParameters(maxNewTokens: 64, stopSequences: [stop, "never-there"]),
      onEvent: { if case .token(_, let text) = $0 { streamed += text } }
    )
    #expect(result.finishReason == .stopSequence)
    #expect(result.text == expectedText)
    #expect(streamed == expectedText)
    #expect(result.tokenIds == Array(greedy.token_ids.prefix(result.tokenIds.count)))
  }

  @Test func maxNewTokensAndEndOfText() throws {
    let generator = try Self.generator("gpt2-vocab")
    let limited = try generator.generate(prompt: "Photosynthesis is", parameters: .init(maxNewTokens: 5))
    #expect(limited.tokenIds.count == 5)
    #expect(limited.finishReason == .length)
    // The context window ends generation too, without an error.
    let window = generator.model.configuration.maxPositionEmbeddings
    let prompt = [Int](repeating: 464, count: window - 3)
    let full = try generator.generate(promptTokens: prompt, parameters: .init(maxNewTokens: 50))
    #expect(full.tokenIds.count == 4)
    #expect(full.finishReason == .length)
    #expect(throws: EngineError.self) {
      try generator.generate(promptTokens: [Int](repeating: 464, count: window + 1), parameters: .init())
    }
    #expect(throws: EngineError.invalidParameter(name: "top_p", reason: "must be in (0, 1], got 1.5")) {
      try generator.generate(prompt: "x", parameters: .init(temperature: 1, topP: 1.5))
    }
  }

  @Test func streamYieldsTokensThenTheResult() async throws {
    let generator = try Self.generator("gpt2-vocab")
    let reference = try Fixtures.reference("gpt2-vocab")
    let greedy = reference.greedy[2]
    var ids: [Int] = []
    var text = ""
    var final: GenerationResult?
    for try await event in generator.stream(
      promptTokens: greedy.prompt_token_ids,
      parameters: .init(maxNewTokens: 64)
    ) {
      switch event {
      case .token(let id, let delta):
        if id >= 0 { ids.append(id) }
        text += delta
      case .finished(let result): final = result
      }
    }
    #expect(ids == greedy.token_ids)
    #expect(text == greedy.text)
    #expect(final?.tokenIds == greedy.token_ids)
  }

  @Test func cancellingTheConsumerStopsGeneration() async throws {
    let generator = try Self.generator("gpt2-vocab")
    let stream = generator.stream(
      prompt: "Photosynthesis is",
      parameters: .init(maxNewTokens: 10_000, stopAtEndOfText: false)
    )
    var received = 0
    for try await event in stream {
      if case .token = event { received += 1 }
      if received == 3 { break }
    }
    // The producer notices within one layer; a fresh stream on the same generator still works.
    let after = try generator.generate(prompt: "Photosynthesis is", parameters: .init(maxNewTokens: 2))
    #expect(after.tokenIds.count == 2)

    let flag = CancellationFlag()
    var seen = 0
    let result = try generator.generate(
      promptTokens: [464],
      parameters: .init(maxNewTokens: 60, stopAtEndOfText: false),
      isCancelled: { flag.isCancelled },
      onEvent: { event in
        if case .token = event {
          seen += 1
          if seen == 5 { flag.cancel() }
        }
      }
    )
    #expect(result.finishReason == .cancelled)
    #expect(result.tokenIds.count == 5)
  }
}
