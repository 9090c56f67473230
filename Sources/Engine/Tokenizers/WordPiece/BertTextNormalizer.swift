import Foundation

/// The normalisation and pre-tokenisation of BERT tokenizers, as the `tokenizers` library's
/// `BertNormalizer` and `BertPreTokenizer` do them
/// (https://github.com/huggingface/tokenizers/blob/main/tokenizers/src/normalizers/bert.rs,
/// `pre_tokenizers/bert.rs`):
///
/// 1. clean text: drop NUL, U+FFFD and control characters (`\t`, `\n`, `\r` are whitespace), turn
///    every whitespace character into a space;
/// 2. put spaces around CJK ideographs, so that each becomes a word of its own;
/// 3. strip accents (canonical decomposition, then drop non-spacing marks) — by default exactly
///    when lower-casing;
/// 4. lower-case, character by character (no context rules such as Greek final sigma);
/// 5. split on whitespace, and make every punctuation character a word of its own.
struct BertTextNormalizer: Sendable, Equatable {
  var cleanText = true
  var handleChineseCharacters = true
  var stripAccents = true
  var lowercase = true

  /// The words of `text` after normalisation, in order.
  func words(_ text: String) -> [String] {
    var scalars: [Unicode.Scalar] = []
    scalars.reserveCapacity(text.unicodeScalars.count + 8)
    for s in text.unicodeScalars {
      if cleanText {
        if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
        if Self.isWhitespace(s) {
          scalars.append(" ")
          continue
        }
      }
      if handleChineseCharacters, Self.isChineseCharacter(s) {
        scalars.append(" ")
        scalars.append(s)
        scalars.append(" ")
        continue
      }
      scalars.append(s)
    }
    if stripAccents {
      var view = String.UnicodeScalarView()
      view.append(contentsOf: scalars)
      // Canonical decomposition (NFD), as the `unicode-normalization` crate does it.
      let decomposed = String(view).decomposedStringWithCanonicalMapping
      scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
    }
    if lowercase {
      var lowered: [Unicode.Scalar] = []
      lowered.reserveCapacity(scalars.count)
      for s in scalars {
        // Rust's char::to_lowercase: the scalar's full lowercase mapping, without context.
        if s.properties.changesWhenLowercased {
          lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
        } else {
          lowered.append(s)
        }
      }
      scalars = lowered
    }
    var words: [String] = []
    var current = String.UnicodeScalarView()
    func flush() {
      if !current.isEmpty {
        words.append(String(current))
        current = String.UnicodeScalarView()
      }
    }
    for s in scalars {
      if Self.isWhitespace(s) {
        flush()
      } else if Self.isPunctuation(s) {
        flush()
        words.append(String(Character(s)))
      } else {
        current.append(s)
      }
    }
    flush()
    return words
  }

  /// Rust's `char::is_whitespace` (the White_Space property), which includes `\t`, `\n`, `\r`.
  static func isWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

  /// Categories Cc, Cf, Cs, Co and Cn, except the whitespace controls `\t`, `\n`, `\r`.
  static func isControl(_ s: Unicode.Scalar) -> Bool {
    if s == "\t" || s == "\n" || s == "\r" { return false }
    switch s.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned: return true
    default: return false
    }
  }

  /// ASCII punctuation (which includes symbols such as `$`, `+`, `^`, `` ` ``) or any Unicode
  /// punctuation category (Pc, Pd, Ps, Pe, Pi, Pf, Po).
  static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
    let v = s.value
    if (33 ... 47).contains(v) || (58 ... 64).contains(v) || (91 ... 96).contains(v)
      || (123 ... 126).contains(v)
    {
      return true
    }
    switch s.properties.generalCategory {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
      .initialPunctuation, .finalPunctuation, .otherPunctuation:
      return true
    default:
      return false
    }
  }

  /// The CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana), as BERT defines them.
  static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x4E00 ... 0x9FFF, 0x3400 ... 0x4DBF, 0x20000 ... 0x2A6DF, 0x2A700 ... 0x2B73F,
      0x2B740 ... 0x2B81F, 0x2B920 ... 0x2CEAF, 0xF900 ... 0xFAFF, 0x2F800 ... 0x2FA1F:
      return true
    default:
      return false
    }
  }
}
