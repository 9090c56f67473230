/// GPT-2's reversible mapping of the 256 byte values onto printable Unicode characters, so that
/// every byte sequence has a text form in `vocab.json` (`bytes_to_unicode` in OpenAI's encoder.py).
enum ByteLevel {
  /// `characters[b]` is the vocabulary character standing for byte `b`.
  static let characters: [Character] = {
    var table = [Character](repeating: " ", count: 256)
    var next: UInt32 = 256
    for b in 0 ..< 256 {
      let printable = (33 ... 126).contains(b) || (161 ... 172).contains(b) || (174 ... 255).contains(b)
      if printable {
        table[b] = Character(Unicode.Scalar(UInt8(b)))
      } else {
        table[b] = Character(Unicode.Scalar(next)!)
        next += 1
      }
    }
    return table
  }()

  /// The inverse of ``characters``: byte for each vocabulary character's scalar value.
  static let bytes: [UInt32: UInt8] = {
    var map: [UInt32: UInt8] = [:]
    for (b, ch) in characters.enumerated() { map[ch.unicodeScalars.first!.value] = UInt8(b) }
    return map
  }()

  /// The vocabulary spelling of a byte string.
  static func encode(_ bytes: some Sequence<UInt8>) -> String {
    var s = ""
    for b in bytes { s.append(characters[Int(b)]) }
    return s
  }

  /// The bytes a vocabulary token stands for; `nil` if it holds a character outside the table.
  static func decode(_ token: String) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(token.unicodeScalars.count)
    for scalar in token.unicodeScalars {
      guard let b = bytes[scalar.value] else { return nil }
      out.append(b)
    }
    return out
  }
}
