import Foundation
import Testing

@testable import Engine

/// Grounded decoding: each strategy on a constructed case, and the batch driving context-aware
/// decoding exactly as a sequence alone.
@Suite struct GroundingTests {
  static let prompt = "Student: why are leaves green?\nTutor:"

  static func generate(_ grounding: Grounding, maxNewTokens: Int = 40) throws -> GenerationResult {
    let generator = try GenerationTests.generator("gpt2-vocab")
    return try generator.generate(
      promptTokens: generator.encode(prompt: prompt),
      parameters: GenerationParameters(
        maxNewTokens: maxNewTokens,
        stopAtEndOfText: false,
        grounding: grounding
      )
    )
  }

  static func tokens(_ text: String) throws -> [Int] {
    try GenerationTests.generator("gpt2-vocab").tokenizer.encode(text)
  }

  @Test("Copy support makes a random model write a source sentence it would never write alone")
  func copySupportFollowsTheSource() throws {
    let sentence = try Self.tokens(" Leaves are green because chlorophyll reflects green light.")
    let plain = try Self.generate(Grounding(), maxNewTokens: sentence.count)
    #expect(plain.tokenIds != sentence, "the random model does not write it by itself")
    let copied = try Self.generate(
      Grounding(sources: [.init(tokens: sentence)], copyBias: 100),
      maxNewTokens: sentence.count
    )
    #expect(copied.tokenIds == sentence)
  }

  @Test("Between sources, the heavier weight wins; after a sentence its note's next one follows")
  func weightsAndNextSentence() throws {
    let light = try Self.tokens(" Roots drink water from the soil.")
    let heavyFirst = try Self.tokens(" Chlorophyll absorbs red and blue light.")
    let heavySecond = try Self.tokens(" Green light is reflected, so leaves look green.")
    let result = try Self.generate(
      Grounding(
        sources: [
          .init(tokens: light, weight: 0.05, group: 1),
          .init(tokens: heavyFirst, weight: 1, group: 0),
          .init(tokens: heavySecond, weight: 0.05, group: 0),
        ],
        copyBias: 60,
        maxSentences: 2
      ),
      maxNewTokens: 40
    )
    // The second sentence of the heavy note, although it weighs no more than the light note's.
    #expect(Array(result.tokenIds.prefix(heavyFirst.count + heavySecond.count)) == heavyFirst + heavySecond)
  }

  @Test("A sentence limit ends the answer after its sentence, not at the point of 3.5")
  func sentenceLimit() throws {
    let first = try Self.tokens(" A leaf is 3.5 cm wide.")
    let second = try Self.tokens(" It has many cells inside it.")
    let result = try Self.generate(
      Grounding(sources: [.init(tokens: first), .init(tokens: second)], copyBias: 100, maxSentences: 1)
    )
    #expect(result.text == " A leaf is 3.5 cm wide.")
    #expect(result.finishReason == .length)
  }

  @Test("Near the end of the budget, the answer stops at a sentence end instead of mid-sentence")
  func endAtSentenceBoundary() throws {
    let first = try Self.tokens(
      " One leaf was green and wide and flat and thin, with many small cells packed inside it."
    )
    let second = try Self.tokens(" Two leaves were red and yellow in the autumn sun.")
    // The first sentence ends within the budget's last quarter; the second does not fit.
    let budget = first.count + 5
    let source = Grounding.Source(tokens: first + second)
    let cut = try Self.generate(Grounding(sources: [source], copyBias: 100), maxNewTokens: budget)
    #expect(
      cut.tokenIds == Array((first + second).prefix(budget)),
      "without it the budget cuts the second sentence"
    )
    let ended = try Self.generate(
      Grounding(sources: [source], copyBias: 100, endAtSentenceBoundary: true),
      maxNewTokens: budget
    )
    #expect(ended.tokenIds == first)
    #expect(ended.text.hasSuffix("inside it."))
  }

  @Test("No repeated n-grams: the generated tokens never repeat a 2-gram")
  func noRepeatedNGrams() throws {
    let plain = try Self.generate(Grounding(), maxNewTokens: 60)
    let bigrams = zip(plain.tokenIds, plain.tokenIds.dropFirst()).map { [$0, $1] }
    #expect(Set(bigrams).count < bigrams.count, "a random model repeats itself")
    let blocked = try Self.generate(Grounding(noRepeatNGramSize: 2), maxNewTokens: 60)
    let blockedBigrams = zip(blocked.tokenIds, blocked.tokenIds.dropFirst()).map { [$0, $1] }
    #expect(Set(blockedBigrams).count == blockedBigrams.count)
    #expect(NGramBlocker.banned(size: 3, generated: [1, 2, 3, 1, 2]) == [3])
    #expect(NGramBlocker.banned(size: 2, generated: [5, 6, 5]) == [6])
    #expect(NGramBlocker.banned(size: 3, generated: [1]).isEmpty)
  }

  @Test("A copy in progress may repeat the answer's n-grams: the notes stay copyable")
  func copyingIsExemptFromTheNGramBan() throws {
    let sentence = try Self.tokens(" the cell and the cell wall and the cell membrane.")
    let result = try Self.generate(
      Grounding(sources: [.init(tokens: sentence)], copyBias: 100, noRepeatNGramSize: 2),
      maxNewTokens: sentence.count
    )
    #expect(result.tokenIds == sentence)
  }

  @Test("Context-aware decoding picks argmax of (1+α)·with − α·without")
  func contextAwareDecoding() throws {
    let generator = try GenerationTests.generator("gpt2-vocab")
    let model = generator.model
    let with = generator.encode(prompt: "Notes: chlorophyll is green.\n" + Self.prompt)
    let without = generator.encode(prompt: Self.prompt)
    func lastLogits(_ tokens: [Int]) throws -> [Float] {
      let hidden = try model.forward(tokens: tokens, cache: model.makeCache())
      return model.logits(hidden: hidden, row: tokens.count - 1)
    }
    let l1 = try lastLogits(with)
    let l0 = try lastLogits(without)
    let plainFirst = l1.indices.max { l1[$0] < l1[$1] }!
    // The smallest α of these that changes the first token.
    let choices = [Float(0.5), 1, 2, 4, 8].map { a -> (Float, Int) in
      let combined = zip(l1, l0).map { (1 + a) * $0 - a * $1 }
      return (a, combined.indices.max { combined[$0] < combined[$1] }!)
    }
    let (a, expected) = try #require(
      choices.first { $0.1 != plainFirst },
      "the constructed case changes the choice"
    )
    let result = try generator.generate(
      promptTokens: with,
      parameters: GenerationParameters(
        maxNewTokens: 1,
        grounding: Grounding(contrastPromptTokens: without, contrastStrength: a)
      )
    )
    #expect(result.tokenIds == [expected])
  }

  @Test("Context-aware decoding in the batch gives each sequence its tokens alone", arguments: [1, 5, 128])
  func contextAwareDecodingBatched(prefillChunk: Int) async throws {
    let generator = try GenerationTests.generator("gpt2-vocab")
    let prompts = [
      "Notes: leaves are green.\nQ: colour?\nA:", "The cell wall", "Notes: water.\n" + Self.prompt,
    ]
    func parameters(_ i: Int) -> GenerationParameters {
      let contrast = generator.encode(prompt: String(prompts[i].suffix(8)))
      return GenerationParameters(
        maxNewTokens: 10 + i,
        grounding: i == 1
          ? Grounding() : Grounding(contrastPromptTokens: contrast, contrastStrength: 0.5 * Float(i + 1))
      )
    }
    let alone = try prompts.indices.map {
      try generator.generate(promptTokens: generator.encode(prompt: prompts[$0]), parameters: parameters($0))
    }
    let batched = BatchedGenerator(
      generator: generator,
      maxBatchSize: 3,
      prefillChunk: prefillChunk,
      stepTokenLimit: 12
    )
    defer { batched.stop() }
    let streams = prompts.indices.map {
      batched.stream(promptTokens: generator.encode(prompt: prompts[$0]), parameters: parameters($0))
    }
    for (i, stream) in streams.enumerated() {
      let (_, result) = try await BatchingTests.collect(stream)
      #expect(result?.tokenIds == alone[i].tokenIds, "prompt \(i)")
    }
  }

  @Test("Bad grounding settings are refused with the setting's name")
  func validation() throws {
    #expect(throws: EngineError.self) { try Grounding(copyBias: -1).validate() }
    #expect(throws: EngineError.self) { try Grounding(contrastStrength: 1).validate() }
    #expect(throws: EngineError.self) { try Grounding(noRepeatNGramSize: -2).validate() }
    #expect(throws: EngineError.self) { try Grounding(sources: [.init(tokens: [1], weight: 2)]).validate() }
    #expect(throws: EngineError.self) {
      try Grounding(sources: [.init(tokens: [99_999])]).validate(vocabularySize: 100)
    }
    let error = #expect(throws: EngineError.self) { try Grounding(copyBias: .nan).validate() }
    #expect("\(String(describing: error))".contains("copy_bias"))
    #expect(!Grounding().isActive)
  }
}
