import Foundation

/// The analyzer of the snippet index, the same chain as FTS5's `porter unicode61 remove_diacritics 2`:
/// tokens are runs of letters and digits, case-folded, with diacritics removed, then Porter-stemmed.
enum TextAnalyzer {
  /// Stemmed tokens of `text`, in order.
  static func tokens(_ text: String) -> [String] {
    var out: [String] = []
    forEachFoldedToken(text) { out.append(PorterStemmer.stem($0)) }
    return out
  }

  /// Calls `body` with each case-folded, diacritics-free token before stemming (callers that see
  /// the same words again and again cache the stems).
  static func forEachFoldedToken(_ text: String, _ body: (String) -> Void) {
    var ascii: [UInt8] = []
    var other = ""
    var isASCII = true
    func flush() {
      if !ascii.isEmpty || !other.isEmpty {
        let raw = isASCII ? String(decoding: ascii, as: UTF8.self) : fold(other)
        if !raw.isEmpty { body(raw) }
      }
      ascii.removeAll(keepingCapacity: true)
      other = ""
      isASCII = true
    }
    for scalar in text.unicodeScalars {
      let v = scalar.value
      if v < 0x80 {
        if (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) {
          ascii.append(UInt8(v))
          if !isASCII { other.unicodeScalars.append(scalar) }
        } else if v >= 0x41 && v <= 0x5A {
          ascii.append(UInt8(v + 0x20))
          if !isASCII { other.unicodeScalars.append(scalar) }
        } else {
          flush()
        }
        continue
      }
      switch scalar.properties.generalCategory {
      case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        .decimalNumber, .letterNumber, .otherNumber, .privateUse, .nonspacingMark, .spacingMark:
        if isASCII {
          other = String(decoding: ascii, as: UTF8.self)
          isASCII = false
        }
        other.unicodeScalars.append(scalar)
      default:
        flush()
      }
    }
    flush()
  }

  /// Lowercase, decompose and drop combining marks (é → e, ß stays ß).
  static func fold(_ token: String) -> String {
    var out = String.UnicodeScalarView()
    for s in token.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
      switch s.properties.generalCategory {
      case .nonspacingMark, .spacingMark, .enclosingMark: continue
      default: out.append(s)
      }
    }
    return String(out)
  }
}
