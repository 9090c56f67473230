import Foundation
import Testing
import TutorTestSupport

@testable import Engine

/// The bundled tutor model (`models/tutor`, trained by `tools/train/`) against Hugging Face
/// transformers: the references in `Fixtures/bundled-model-greedy.json` were made by
/// `tools/train/evaluate.py --fixture` from held-out tutoring prompts, with the float16 weights
/// upcast to float32.
@Suite struct BundledModelTests {
  static let directory = Repository.bundledModel

  struct Reference: Decodable {
    struct Greedy: Decodable {
      var prompt: String
      var prompt_token_ids: [Int]
      var token_ids: [Int]
      var text: String
      var min_margin: Double
    }
    var greedy: [Greedy]
  }

  static func reference() throws -> Reference {
    try JSONDecoder().decode(
      Reference.self,
      from: Data(contentsOf: Fixtures.root.appendingPathComponent("bundled-model-greedy.json"))
    )
  }

  @Test func itIsASmallFloat16GPTNeoWithTheGPT2Tokenizer() throws {
    let model = try GPTNeoModel.load(directory: Self.directory, options: .init(threads: 1))
    #expect(model.configuration.vocabSize == 50257 && model.configuration.hiddenSize <= 512)
    #expect(model.parameterCount <= 30_000_000, "\(model.parameterCount) parameters")
    let weights = try FileManager.default.attributesOfItem(
      atPath: Self.directory.appendingPathComponent("model.safetensors").path
    )
    // float16: two bytes a parameter (the LM head is the tied embedding, stored once).
    let bytes = try #require(weights[.size] as? Int)
    #expect(bytes < model.parameterCount * 2 + 1_000_000)
  }

  @Test(arguments: [WeightFormat.float32, .float16], [1, 2])
  func greedyTokensMatchTransformers(weights: WeightFormat, threads: Int) throws {
    let reference = try Self.reference()
    #expect(reference.greedy.count >= 3)
    let tokenizer = try GPT2Tokenizer.load(directory: Self.directory)
    let generator = TextGenerator(
      model: try GPTNeoModel.load(
        directory: Self.directory,
        options: .init(threads: threads, weightFormat: weights)
      ),
      tokenizer: tokenizer
    )
    for expected in reference.greedy {
      // The server's tokenizer reads the prompt as the Hugging Face tokenizer did.
      #expect(tokenizer.encode(expected.prompt, allowSpecialTokens: false) == expected.prompt_token_ids)
      let result = try generator.generate(
        promptTokens: expected.prompt_token_ids,
        parameters: GenerationParameters(maxNewTokens: 48)
      )
      #expect(result.tokenIds == expected.token_ids)
      #expect(result.text == expected.text)
    }
  }
}
