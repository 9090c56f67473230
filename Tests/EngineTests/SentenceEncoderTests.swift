import Foundation
import Testing
import TutorTestSupport

@testable import Engine

/// all-MiniLM-L6-v2 (`models/all-MiniLM-L6-v2`, unpacked by `tools/fetch-models.sh`, which the
/// test command runs) against the `tokenizers` library and sentence-transformers: the references
/// in `Fixtures/minilm-reference.json` were made by `tools/reference/make_encoder_fixtures.py`.
@Suite struct SentenceEncoderTests {
  static let directory = Repository.encoder

  struct Reference: Decodable {
    struct Case: Decodable {
      var text: String
      var ids: [Int]
      var embedding: [Float]
    }
    var max_seq_length: Int
    var cases: [Case]
  }

  static func reference() throws -> Reference {
    try JSONDecoder().decode(
      Reference.self,
      from: Data(contentsOf: Fixtures.root.appendingPathComponent("minilm-reference.json"))
    )
  }

  static func requireModel() throws {
    guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path)
    else {
      Issue.record("\(directory.path) is missing: run tools/fetch-models.sh")
      throw CancellationError()
    }
  }

  @Test func tokenIdsMatchTheTokenizersLibrary() throws {
    try Self.requireModel()
    let reference = try Self.reference()
    #expect(reference.cases.count >= 50)
    let fromJSON = try WordPieceTokenizer.load(directory: Self.directory)
    // vocab.txt + tokenizer_config.json give the same tokenizer as tokenizer.json.
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "wordpiece-\(UUID().uuidString)"
    )
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    for name in ["vocab.txt", "tokenizer_config.json"] {
      try FileManager.default.copyItem(
        at: Self.directory.appendingPathComponent(name),
        to: scratch.appendingPathComponent(name)
      )
    }
    let fromVocab = try WordPieceTokenizer.load(directory: scratch)
    for c in reference.cases {
      let ids = fromJSON.encode(c.text, maxLength: reference.max_seq_length)
      #expect(
        ids == c.ids,
        "\(c.text.debugDescription): \(fromJSON.tokens(of: ids)) vs \(fromJSON.tokens(of: c.ids))"
      )
      #expect(
        fromVocab.encode(c.text, maxLength: reference.max_seq_length) == c.ids,
        "\(c.text.debugDescription)"
      )
    }
  }

  @Test func embeddingsMatchSentenceTransformers() throws {
    try Self.requireModel()
    let reference = try Self.reference()
    let encoder = try SentenceEncoder.load(directory: Self.directory, threads: 2)
    #expect(encoder.dimension == 384)
    #expect(encoder.pooling == .mean && encoder.normalizes && encoder.maxSequenceLength == 256)
    // Batched (several texts a forward pass) and one by one give the same vectors.
    let batched = try encoder.embed(reference.cases.map(\.text))
    var worst = 1.0
    for (c, v) in zip(reference.cases, batched) {
      let alone = try encoder.embed([c.text])[0]
      #expect(alone == v, "\(c.text.debugDescription): batching changed the vector")
      let cosine = Double(zip(v, c.embedding).reduce(Float(0)) { $0 + $1.0 * $1.1 })
      let norm = Double(v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot())
      #expect(abs(norm - 1) < 1e-4)
      #expect(cosine >= 0.9999, "\(c.text.debugDescription): cosine \(cosine)")
      worst = min(worst, cosine)
    }
    print("encoder: \(reference.cases.count) texts, worst cosine to sentence-transformers \(worst)")
  }

  @Test func paraphrasesAreCloserThanUnrelatedText() throws {
    try Self.requireModel()
    let encoder = try SentenceEncoder.load(directory: Self.directory, threads: 2)
    let v = try encoder.embed([
      "my teacher said I have to cancel it down",
      "To simplify a fraction, divide the top and bottom by a common factor.",
      "Plants take in carbon dioxide through their stomata.",
    ])
    func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    #expect(dot(v[0], v[1]) > dot(v[0], v[2]) + 0.1)
  }

  @Test func fingerprintFollowsTheWeights() throws {
    try Self.requireModel()
    let a = try SentenceEncoder.fingerprint(directory: Self.directory, files: ["config.json"])
    #expect(a == (try SentenceEncoder.fingerprint(directory: Self.directory, files: ["config.json"])))
    #expect(
      a != (try SentenceEncoder.fingerprint(directory: Self.directory, files: ["config.json", "vocab.txt"]))
    )
  }

  @Test func missingFolderIsAClearError() {
    #expect(throws: EngineError.fileNotFound(path: "/nonexistent/encoder")) {
      try SentenceEncoder.load(directory: URL(fileURLWithPath: "/nonexistent/encoder"))
    }
  }
}
