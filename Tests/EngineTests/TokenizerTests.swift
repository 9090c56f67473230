import Foundation
import Testing

@testable import Engine

/// The tokenizer against Hugging Face `tokenizers` on a corpus of awkward texts.
@Suite struct TokenizerTests {
  static let gpt2 = Result { try GPT2Tokenizer.load(directory: Fixtures.directory("gpt2-vocab")) }

  @Test func matchesTokenizersOnAwkwardTexts() throws {
    let tokenizer = try Self.gpt2.get()
    let cases = try Fixtures.tokenizerCases()
    #expect(cases.count > 150)
    for c in cases {
      #expect(tokenizer.encode(c.text) == c.token_ids, "\(c.text.debugDescription)")
    }
  }

  @Test func decodingIsLossless() throws {
    let tokenizer = try Self.gpt2.get()
    for c in try Fixtures.tokenizerCases() {
      #expect(tokenizer.decode(c.token_ids) == c.text)
      #expect(tokenizer.decode(tokenizer.encode(c.text, allowSpecialTokens: false)) == c.text)
    }
  }

  @Test func knownGPT2Ids() throws {
    let tokenizer = try Self.gpt2.get()
    #expect(tokenizer.vocabularySize == 50257)
    #expect(tokenizer.endOfTextTokenId == 50256)
    #expect(tokenizer.encode("Hello world") == [15496, 995])
    #expect(tokenizer.encode("<|endoftext|>") == [50256])
    // Untrusted text never produces the special id.
    #expect(!tokenizer.encode("<|endoftext|>", allowSpecialTokens: false).contains(50256))
  }

  @Test func streamingDecoderNeverSplitsACharacter() throws {
    let tokenizer = try Self.gpt2.get()
    for c in try Fixtures.tokenizerCases() {
      var decoder = tokenizer.makeStreamingDecoder()
      var pieces: [String] = []
      for id in c.token_ids { pieces.append(decoder.append(id)) }
      pieces.append(decoder.finish())
      #expect(pieces.joined() == c.text)
      #expect(!pieces.joined().contains("\u{FFFD}") || c.text.contains("\u{FFFD}"))
    }
    // An emoji is four bytes spread over several byte-level tokens: nothing is emitted until the
    // last byte arrives.
    let ids = tokenizer.encode("😀")
    #expect(ids.count > 1)
    var decoder = tokenizer.makeStreamingDecoder()
    let emitted = ids.map { decoder.append($0) }
    #expect(emitted.dropLast().allSatisfy { $0.isEmpty })
    #expect(emitted.last == "😀")
  }

  @Test func truncatedCharacterFlushesAsReplacement() throws {
    let tokenizer = try Self.gpt2.get()
    let ids = tokenizer.encode("😀")
    var decoder = tokenizer.makeStreamingDecoder()
    _ = decoder.append(ids[0])
    #expect(decoder.finish() == "\u{FFFD}")
  }

  @Test func loadsTokenizerJSONWithItsOwnMerges() throws {
    let dir = Fixtures.root.appendingPathComponent("small-tokenizer-json")
    let tokenizer = try GPT2Tokenizer.load(directory: dir)
    let cases = try Fixtures.tokenizerCases("small-tokenizer-json/cases.json")
    for c in cases {
      #expect(tokenizer.encode(c.text) == c.token_ids, "\(c.text.debugDescription)")
      #expect(tokenizer.decode(c.token_ids) == c.text)
    }
  }

  @Test func malformedFilesAreReportedWithTheirPath() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: EngineError.fileNotFound(path: dir.appendingPathComponent("vocab.json").path)) {
      try GPT2Tokenizer.load(directory: dir)
    }
    try Data("{\"a\": 0, \"b\": 1}".utf8).write(to: dir.appendingPathComponent("vocab.json"))
    try Data("#version: 0.2\na b\n".utf8).write(to: dir.appendingPathComponent("merges.txt"))
    #expect(throws: EngineError.self) { try GPT2Tokenizer.load(directory: dir) }
  }
}
