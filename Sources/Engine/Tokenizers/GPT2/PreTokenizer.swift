/// Splits text into the pieces BPE runs on, exactly as GPT-2's pattern does:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// A hand-written scanner over Unicode scalars rather than a regex: it follows the pattern's
/// leftmost-first alternation and the backtracking of `\s+(?!\S)` (a run of whitespace before a
/// word gives up its last character, which then leads the next piece).
enum PreTokenizer {
  private enum Kind { case letter, number, space, other }

  private static func kind(_ s: Unicode.Scalar) -> Kind {
    let p = s.properties
    if p.isWhitespace { return .space }
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      return .letter
    case .decimalNumber, .letterNumber, .otherNumber:
      return .number
    default:
      return .other
    }
  }

  /// Ranges of `scalars` that form the pieces, in order, covering the whole input.
  static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
    let n = scalars.count
    let kinds = scalars.map(kind)
    var pieces: [Range<Int>] = []
    var i = 0
    while i < n {
      // 's 't 're 've 'm 'll 'd (case-sensitive, ASCII apostrophe only).
      if scalars[i] == "'", i + 1 < n {
        let a = scalars[i + 1]
        if a == "s" || a == "t" || a == "m" || a == "d" {
          pieces.append(i ..< (i + 2))
          i += 2
          continue
        }
        if i + 2 < n {
          let b = scalars[i + 2]
          if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") {
            pieces.append(i ..< (i + 3))
            i += 3
            continue
          }
        }
      }
      // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
      var start = i
      if scalars[i] == " ", i + 1 < n, kinds[i + 1] != .space { start = i + 1 }
      let k = kinds[start]
      if k != .space {
        var j = start + 1
        while j < n, kinds[j] == k { j += 1 }
        pieces.append(i ..< j)
        i = j
        continue
      }
      // Whitespace: `\s+(?!\S)` keeps the run's last character for the next piece when a
      // non-space follows; a single whitespace character falls through to `\s+`.
      var j = i + 1
      while j < n, kinds[j] == .space { j += 1 }
      if j < n, j - i >= 2 { j -= 1 }
      pieces.append(i ..< j)
      i = j
    }
    return pieces
  }
}
