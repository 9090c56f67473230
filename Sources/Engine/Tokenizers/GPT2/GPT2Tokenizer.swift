import Foundation

/// GPT-2's byte-level BPE tokenizer, as every GPT-Neo checkpoint uses it.
///
/// A pipeline of small stages: special tokens are split off first, the rest is cut into pieces by
/// ``PreTokenizer``, each piece's UTF-8 bytes are spelled with ``ByteLevel`` characters, and BPE
/// merges them by rank. Decoding reverses the byte spelling and is lossless for any text.
///
/// ```swift
/// let tokenizer = try GPT2Tokenizer.load(directory: modelDirectory)
/// let ids = tokenizer.encode("Hello world")      // [15496, 995]
/// let text = tokenizer.decode(ids)               // "Hello world"
/// ```
public final class GPT2Tokenizer: Sendable {
  /// Token text (byte-level spelling) for every id; empty for unused ids.
  let tokens: [String]
  private let vocabulary: [String: Int]
  /// (left id, right id) → (rank, merged id).
  private let merges: [UInt64: Merge]
  /// Token id of each byte value.
  private let byteIds: [Int?]
  /// Special tokens matched verbatim in input text (`<|endoftext|>`).
  public let specialTokens: [String: Int]
  private let specialById: [Int: String]
  /// (id, UTF-8 bytes) of each special token, for matching in input text.
  private let specialTokenBytes: [(Int, [UInt8])]
  private let addPrefixSpace: Bool

  struct Merge: Sendable {
    var rank: Int
    var id: Int
  }

  /// Number of ids, including special tokens.
  public var vocabularySize: Int { tokens.count }
  /// The id of `<|endoftext|>`, when the vocabulary has one.
  public var endOfTextTokenId: Int? { specialTokens["<|endoftext|>"] ?? vocabulary["<|endoftext|>"] }

  /// - Parameters:
  ///   - vocabulary: byte-level token text → id, as in `vocab.json`.
  ///   - merges: merge pairs in rank order, as in `merges.txt`.
  ///   - specialTokens: text → id of tokens matched verbatim before splitting.
  public init(
    vocabulary: [String: Int],
    merges: [(String, String)],
    specialTokens: [String: Int],
    addPrefixSpace: Bool = false,
    source: String = "tokenizer"
  ) throws {
    var vocabulary = vocabulary
    for (text, id) in specialTokens { vocabulary[text] = id }
    let size = (vocabulary.values.max() ?? -1) + 1
    guard size > 0 else { throw EngineError.invalidTokenizer(path: source, reason: "empty vocabulary") }
    var tokens = [String](repeating: "", count: size)
    for (text, id) in vocabulary {
      guard id >= 0 else {
        throw EngineError.invalidTokenizer(path: source, reason: "negative id \(id) for '\(text)'")
      }
      tokens[id] = text
    }
    var table: [UInt64: Merge] = [:]
    table.reserveCapacity(merges.count)
    for (rank, (a, b)) in merges.enumerated() {
      guard let ia = vocabulary[a], let ib = vocabulary[b], let merged = vocabulary[a + b] else {
        throw EngineError.invalidTokenizer(
          path: source,
          reason: "merge \(rank + 1) '\(a) \(b)' uses a token missing from the vocabulary"
        )
      }
      let key = Self.key(ia, ib)
      if table[key] == nil { table[key] = Merge(rank: rank, id: merged) }
    }
    self.tokens = tokens
    self.vocabulary = vocabulary
    self.merges = table
    byteIds = ByteLevel.characters.map { vocabulary[String($0)] }
    self.specialTokens = specialTokens
    specialTokenBytes = specialTokens.filter { !$0.key.isEmpty }.map { ($0.value, Array($0.key.utf8)) }
    specialById = Dictionary(specialTokens.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
    self.addPrefixSpace = addPrefixSpace
  }

  @inline(__always)
  private static func key(_ a: Int, _ b: Int) -> UInt64 { UInt64(a) << 32 | UInt64(UInt32(b)) }

  // MARK: Encoding

  /// Token ids of `text`.
  /// - Parameter allowSpecialTokens: when true (as `tokenizers` does), `<|endoftext|>` in the text
  ///   becomes its special id; when false it is tokenized as ordinary text, which is what
  ///   untrusted input (a student's question) should get.
  public func encode(_ text: String, allowSpecialTokens: Bool = true) -> [Int] {
    var ids: [Int] = []
    var text = text
    if addPrefixSpace, !text.hasPrefix(" ") { text = " " + text }
    // Special tokens are found in the UTF-8 bytes, not among Characters: a combining mark after
    // `<|endoftext|>` would otherwise hide it inside one grapheme cluster.
    let bytes = Array(text.utf8)
    var start = 0
    if allowSpecialTokens, !specialTokens.isEmpty {
      var i = 0
      while i < bytes.count {
        if let (length, id) = specialToken(at: i, in: bytes) {
          if i > start { encodeOrdinary(bytes[start ..< i], into: &ids) }
          ids.append(id)
          i += length
          start = i
        } else {
          i += 1
        }
      }
    }
    if start < bytes.count { encodeOrdinary(bytes[start...], into: &ids) }
    return ids
  }

  /// The longest special token starting at byte `i`.
  private func specialToken(at i: Int, in bytes: [UInt8]) -> (length: Int, id: Int)? {
    var best: (length: Int, id: Int)?
    for (token, bytesOfToken) in specialTokenBytes where bytes[i] == bytesOfToken[0] {
      let n = bytesOfToken.count
      if i + n <= bytes.count, bytes[i ..< (i + n)].elementsEqual(bytesOfToken),
        n > (best?.length ?? 0)
      {
        best = (n, token)
      }
    }
    return best
  }

  private func encodeOrdinary(_ utf8Text: ArraySlice<UInt8>, into ids: inout [Int]) {
    let scalars = Array(String(decoding: utf8Text, as: UTF8.self).unicodeScalars)
    var utf8: [UInt8] = []
    for piece in PreTokenizer.split(scalars) {
      utf8.removeAll(keepingCapacity: true)
      for s in scalars[piece] { utf8.append(contentsOf: s.utf8) }
      bpe(utf8, into: &ids)
    }
  }

  /// Byte-pair merges of one piece: repeatedly merge the adjacent pair of lowest rank.
  private func bpe(_ bytes: [UInt8], into ids: inout [Int]) {
    var symbols = bytes.compactMap { byteIds[Int($0)] }
    if symbols.count < 2 {
      ids.append(contentsOf: symbols)
      return
    }
    while symbols.count > 1 {
      var bestRank = Int.max
      var bestMerge: Merge?
      var bestPair: (Int, Int) = (0, 0)
      for i in 0 ..< (symbols.count - 1) {
        if let m = merges[Self.key(symbols[i], symbols[i + 1])], m.rank < bestRank {
          bestRank = m.rank
          bestMerge = m
          bestPair = (symbols[i], symbols[i + 1])
        }
      }
      guard let merge = bestMerge else { break }
      // Merge every occurrence of the pair, left to right.
      var merged: [Int] = []
      merged.reserveCapacity(symbols.count)
      var i = 0
      while i < symbols.count {
        if i + 1 < symbols.count, symbols[i] == bestPair.0, symbols[i + 1] == bestPair.1 {
          merged.append(merge.id)
          i += 2
        } else {
          merged.append(symbols[i])
          i += 1
        }
      }
      symbols = merged
    }
    ids.append(contentsOf: symbols)
  }

  // MARK: Decoding

  /// The bytes one token stands for (special tokens: their UTF-8 text).
  func bytes(of id: Int) -> [UInt8] {
    guard id >= 0, id < tokens.count else { return [] }
    if let special = specialById[id] { return Array(special.utf8) }
    return ByteLevel.decode(tokens[id]) ?? Array(tokens[id].utf8)
  }

  /// The text of `ids`. Invalid UTF-8 (a sequence cut in the middle of a character) becomes
  /// U+FFFD, as in `tokenizers`.
  public func decode(_ ids: some Sequence<Int>) -> String {
    var bytes: [UInt8] = []
    for id in ids { bytes.append(contentsOf: self.bytes(of: id)) }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// A decoder for token-by-token streaming that never splits a UTF-8 character.
  public func makeStreamingDecoder() -> StreamingDecoder { StreamingDecoder(tokenizer: self) }

}
