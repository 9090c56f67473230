import Foundation
import Testing

@testable import Engine

/// Banned text: judged on the text, however it is split into tokens; the rest of decoding
/// unchanged; the same in the batch as alone.
@Suite struct BannedTextTests {
  static let prompt = "Student: why are leaves green?\nTutor:"

  static func generate(
    _ banned: BannedText,
    temperature: Float = 0,
    seed: UInt64? = nil
  ) throws -> GenerationResult {
    let generator = try GenerationTests.generator("gpt2-vocab")
    return try generator.generate(
      promptTokens: generator.encode(prompt: prompt),
      parameters: GenerationParameters(
        maxNewTokens: 24,
        temperature: temperature,
        seed: seed,
        stopAtEndOfText: false,
        bannedText: banned
      )
    )
  }

  /// A word the plain output contains, whole.
  static func aWord(of text: String) throws -> String {
    try #require(
      text.split(whereSeparator: { !$0.isLetter }).map(String.init).first { $0.count >= 3 }
    )
  }

  @Test(
    "Greedy and sampled output never contains a banned word, and is unchanged before it",
    arguments: [nil, 7] as [UInt64?]
  )
  func aBannedWordIsNeverWritten(seed: UInt64?) throws {
    let temperature: Float = seed == nil ? 0 : 1
    let plain = try Self.generate(BannedText(), temperature: temperature, seed: seed)
    let word = try Self.aWord(of: plain.text)
    let pattern = #"(?<![A-Za-z])"# + word + #"(?=[^A-Za-z])"#
    let banned = try Self.generate(BannedText(patterns: [pattern]), temperature: temperature, seed: seed)
    let expression = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
    // (A word at the very end is not whole yet: the engine's caller checks the finished text.)
    let padded = banned.text
    #expect(
      expression.firstMatch(in: padded, range: NSRange(padded.startIndex..., in: padded)) == nil,
      "\(banned.text)"
    )
    // Up to the word, the same tokens.
    let before = plain.text.range(of: word).map { String(plain.text[..<$0.lowerBound]) } ?? ""
    #expect(
      banned.text.hasPrefix(
        before.trimmingCharacters(in: .whitespaces).isEmpty ? "" : String(before.dropLast(1))
      )
    )
  }

  @Test("A pattern that never matches leaves the output bit-identical")
  func aBanThatNeverFiresChangesNothing() throws {
    let plain = try Self.generate(BannedText())
    let banned = try Self.generate(BannedText(patterns: [#"zzqqxx\d{7}"#]))
    #expect(banned.tokenIds == plain.tokenIds)
  }

  @Test("The batch bans the same tokens as a sequence alone")
  func batchedAsAlone() async throws {
    let generator = try GenerationTests.generator("gpt2-vocab")
    let plain = try Self.generate(BannedText())
    let parameters = GenerationParameters(
      maxNewTokens: 24,
      stopAtEndOfText: false,
      bannedText: BannedText(patterns: [try Self.aWord(of: plain.text)])
    )
    let alone = try generator.generate(
      promptTokens: generator.encode(prompt: Self.prompt),
      parameters: parameters
    )
    let batched = BatchedGenerator(generator: generator, maxBatchSize: 2)
    defer { batched.stop() }
    let other = batched.stream(
      promptTokens: generator.encode(prompt: "The cell wall"),
      parameters: .init(maxNewTokens: 12)
    )
    let stream = batched.stream(promptTokens: generator.encode(prompt: Self.prompt), parameters: parameters)
    let (_, result) = try await BatchingTests.collect(stream)
    _ = try await BatchingTests.collect(other)
    #expect(result?.tokenIds == alone.tokenIds)
  }

  @Test("A pattern that does not compile is refused by name")
  func badPatternsAreRefused() {
    #expect(throws: EngineError.self) { try BannedText(patterns: ["(unclosed"]).validate() }
  }
}
