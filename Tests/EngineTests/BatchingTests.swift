import Foundation
import Testing

@testable import Engine

/// Continuous batching gives every sequence exactly the tokens it gets alone.
@Suite struct BatchingTests {
  static let prompts = [
    "Photosynthesis is",
    "The quick brown fox jumps over the lazy dog, and then",
    "A",
    "In 1905 Albert Einstein published four papers that changed physics: the photoelectric effect,",
    "Fractions: one half plus one quarter equals",
  ]

  static func parameters(_ i: Int) -> GenerationParameters {
    i % 2 == 0
      ? GenerationParameters(maxNewTokens: 12 + 7 * i)
      : GenerationParameters(maxNewTokens: 30, temperature: 0.9, topK: 40, topP: 0.95, seed: UInt64(i))
  }

  static func collect(
    _ stream: AsyncThrowingStream<GenerationEvent, any Error>
  ) async throws -> (text: String, result: GenerationResult?) {
    var text = ""
    var result: GenerationResult?
    for try await event in stream {
      switch event {
      case .token(_, let piece): text += piece
      case .finished(let r): result = r
      }
    }
    return (text, result)
  }

  @Test(arguments: [1, 3, 128])
  func batchedEqualsAlone(prefillChunk: Int) async throws {
    let generator = try GenerationTests.generator("gpt2-vocab")
    let alone = try Self.prompts.indices.map { i in
      try generator.generate(
        promptTokens: generator.encode(prompt: Self.prompts[i]),
        parameters: Self.parameters(i)
      )
    }
    let batched = BatchedGenerator(generator: generator, maxBatchSize: 4, prefillChunk: prefillChunk)
    defer { batched.stop() }
    // All five submitted at once: four run together, the fifth joins when one finishes.
    let streams = Self.prompts.indices.map { i in
      batched.stream(promptTokens: generator.encode(prompt: Self.prompts[i]), parameters: Self.parameters(i))
    }
    let results = try await withThrowingTaskGroup(of: (Int, String, GenerationResult?).self) { group in
      for (i, stream) in streams.enumerated() {
        group.addTask {
          let (text, result) = try await Self.collect(stream)
          return (i, text, result)
        }
      }
      return try await group.reduce(into: [:]) { $0[$1.0] = ($1.1, $1.2) }
    }
    for i in Self.prompts.indices {
      let (text, result) = try #require(results[i])
      let r = try #require(result)
      #expect(r.tokenIds == alone[i].tokenIds, "prompt \(i)")
      #expect(r.text == alone[i].text)
      #expect(r.finishReason == alone[i].finishReason)
      #expect(text == r.text, "streamed pieces concatenate to the text")
    }
    let stats = batched.statistics
    #expect(stats.maxBatch >= 2 && stats.maxBatch <= 4, "\(stats)")
    #expect(stats.rows > stats.steps, "steps carried several rows")
  }

  @Test func aConsumerThatLeavesDoesNotDisturbTheOthers() async throws {
    let generator = try GenerationTests.generator("gpt2-vocab")
    let parameters = GenerationParameters(maxNewTokens: 40, stopAtEndOfText: false)
    let prompt = generator.encode(prompt: Self.prompts[1])
    let alone = try generator.generate(promptTokens: prompt, parameters: parameters)
    let batched = BatchedGenerator(generator: generator, maxBatchSize: 8, prefillChunk: 4)
    defer { batched.stop() }
    let leaving = batched.stream(
      promptTokens: generator.encode(prompt: Self.prompts[0]),
      parameters: parameters
    )
    let staying = batched.stream(promptTokens: prompt, parameters: parameters)
    var seen = 0
    for try await event in leaving {
      if case .token = event { seen += 1 }
      if seen == 3 { break }
    }
    let (_, result) = try await Self.collect(staying)
    #expect(result?.tokenIds == alone.tokenIds)
    #expect(result?.tokenIds.count == 40)
  }

  @Test func badRequestsFailAloneAndStopEndsEverything() async throws {
    let generator = try GenerationTests.generator("gpt2-vocab")
    let batched = BatchedGenerator(generator: generator, maxBatchSize: 2)
    let tooLong = batched.stream(
      promptTokens: Array(repeating: 50, count: generator.model.configuration.maxPositionEmbeddings + 1),
      parameters: .init(maxNewTokens: 4)
    )
    await #expect(throws: EngineError.self) { _ = try await Self.collect(tooLong) }
    let fine = try await Self.collect(
      batched.stream(promptTokens: [50, 51], parameters: .init(maxNewTokens: 3))
    )
    #expect(fine.result?.tokenIds.count == 3)
    batched.stop()
    await #expect(throws: CancellationError.self) {
      _ = try await Self.collect(batched.stream(promptTokens: [50], parameters: .init(maxNewTokens: 3)))
    }
  }
}
