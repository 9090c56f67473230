import Foundation
import TutorTestSupport

@testable import Engine

/// The reference fixtures made by `tools/reference/make_fixtures.py` with Hugging Face transformers.
enum Fixtures {
  static let root = Repository.engineFixtures

  static let modelNames = ["tiny-global-first", "tiny-local-first-f16-sharded", "tiny-bf16", "gpt2-vocab"]

  static func directory(_ name: String) -> URL { root.appendingPathComponent(name) }

  static func reference(_ name: String) throws -> Reference {
    try JSONDecoder().decode(
      Reference.self,
      from: Data(contentsOf: directory(name).appendingPathComponent("reference.json"))
    )
  }

  /// `logits.bin`: float32 little-endian `[positions, vocab]`.
  static func logits(_ name: String) throws -> [Float] {
    let data = try Data(contentsOf: directory(name).appendingPathComponent("logits.bin"))
    return data.withUnsafeBytes { raw in
      (0 ..< (data.count / 4)).map {
        Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
      }
    }
  }

  static func model(_ name: String, threads: Int = 2) throws -> GPTNeoModel {
    try GPTNeoModel.load(directory: directory(name), options: .init(threads: threads))
  }

  struct Reference: Decodable {
    struct Prompt: Decodable {
      var text: String?
      var token_ids: [Int]
    }
    struct Greedy: Decodable {
      var prompt_token_ids: [Int]
      var token_ids: [Int]
      var text: String?
      var min_margin: Double
    }
    struct Logits: Decodable {
      var prompt: Int
      var shape: [Int]
    }
    struct Sampling: Decodable {
      struct Distribution: Decodable {
        struct Settings: Decodable {
          var temperature: Double?
          var top_k: Int?
          var top_p: Double?
          var repetition_penalty: Double?
        }
        var settings: Settings
        var probabilities: [Double]
      }
      var prompt: Int
      var input_ids: [Int]
      var distributions: [Distribution]
    }
    struct Perplexity: Decodable {
      var token_ids: [Int]?
      var text: String?
      var perplexity: Double
      var tokens: Int
    }
    var name: String
    var dtype: String
    var prompts: [Prompt]
    var greedy: [Greedy]
    var logits: Logits
    var sampling: Sampling?
    var perplexity: Perplexity?
  }

  struct TokenizerCase: Decodable {
    var text: String
    var token_ids: [Int]
  }

  static func tokenizerCases(_ file: String = "tokenizer-cases.json") throws -> [TokenizerCase] {
    try JSONDecoder().decode([TokenizerCase].self, from: Data(contentsOf: root.appendingPathComponent(file)))
  }
}
