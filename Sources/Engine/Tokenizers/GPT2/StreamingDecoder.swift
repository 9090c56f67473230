/// Turns a stream of token ids into text deltas without ever emitting half a UTF-8 character:
/// bytes of an incomplete character wait for the tokens that complete it.
///
/// ```swift
/// var decoder = tokenizer.makeStreamingDecoder()
/// for id in ids { print(decoder.append(id), terminator: "") }
/// print(decoder.finish())
/// ```
public struct StreamingDecoder: Sendable {
  private let tokenizer: GPT2Tokenizer
  private var pending: [UInt8] = []

  init(tokenizer: GPT2Tokenizer) { self.tokenizer = tokenizer }

  /// Adds one token; returns the text that is now complete (possibly empty).
  public mutating func append(_ id: Int) -> String {
    pending.append(contentsOf: tokenizer.bytes(of: id))
    let complete = Self.completePrefixLength(pending)
    guard complete > 0 else { return "" }
    let text = String(decoding: pending[0 ..< complete], as: UTF8.self)
    pending.removeFirst(complete)
    return text
  }

  /// Flushes what is left; an unfinished character becomes U+FFFD.
  public mutating func finish() -> String {
    defer { pending.removeAll() }
    return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
  }

  /// Length of the longest prefix that does not end inside a UTF-8 sequence that could still be
  /// completed. Invalid bytes count as complete (they decode to U+FFFD at once).
  static func completePrefixLength(_ bytes: [UInt8]) -> Int {
    let n = bytes.count
    // Look back at most 3 bytes for the lead byte of an unfinished sequence.
    var i = n - 1
    var continuation = 0
    while i >= 0, n - i <= 4 {
      let b = bytes[i]
      if b & 0xC0 == 0x80 {
        continuation += 1
        i -= 1
        continue
      }
      let needed: Int
      if b & 0x80 == 0 {
        needed = 1
      } else if b & 0xE0 == 0xC0 {
        needed = 2
      } else if b & 0xF0 == 0xE0 {
        needed = 3
      } else if b & 0xF8 == 0xF0 {
        needed = 4
      } else {
        return n
      }
      return continuation + 1 < needed ? i : n
    }
    return n
  }
}
