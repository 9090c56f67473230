import Curriculum
import Engine
import Foundation

/// Every way of writing an exercise's answer that the grader would accept, as patterns the
/// engine bans while decoding (``BannedText``) and a check of finished text: for numbers,
/// decimals (`0.75`, `.75`, `0.750`), fractions (`3/4`, `6/8`, `3 over 4`), mixed numbers
/// (`1 1/2`), percentages (`75%`, `75 percent`) and words (`three quarters`, `twelve`); for
/// choices, the correct choices' text; for exact answers, each accepted text; for regex answers,
/// any match. Numbers and words match whole (`3` is banned, `13` and `3x` are not).
public struct ExerciseAnswerForms: Sendable {
  public let patterns: [String]
  private let expression: NSRegularExpression?

  public init(_ answer: Answer) {
    patterns = Self.patterns(answer)
    expression =
      patterns.isEmpty
      ? nil
      : try? NSRegularExpression(
        pattern: patterns.map { "(?:\($0))" }.joined(separator: "|"),
        options: [.caseInsensitive]
      )
  }

  /// Whether finished `text` contains the answer in any accepted form.
  public func revealed(in text: String) -> Bool { firstReveal(in: text) != nil }

  /// Where the first accepted form of the answer starts in finished `text`.
  public func firstReveal(in text: String) -> String.Index? {
    guard let expression else { return nil }
    let padded = " " + text + " "
    guard let match = expression.firstMatch(in: padded, range: NSRange(padded.startIndex..., in: padded)),
      let range = Range(match.range, in: padded)
    else { return nil }
    // One character of padding before the text.
    let offset = max(0, padded.distance(from: padded.startIndex, to: range.lowerBound) - 1)
    return text.index(text.startIndex, offsetBy: min(offset, text.count))
  }

  public var bannedText: BannedText { BannedText(patterns: patterns) }

  // MARK: Patterns

  /// Not preceded by a letter, digit or number punctuation; followed by a character that ends
  /// a number (a `.` or `,` only when no digit follows). The lookahead needs a character, so a
  /// number being written is not judged before it ends. Letters and digits make words; an
  /// underscore does not (`chlorophyll___` shows the word).
  static let numberStart = #"(?<![\p{L}\p{N}.,/])"#
  static let numberEnd = #"(?![\d/])(?=[^\p{L}\p{N}./,]|[.,][^\d])"#
  static let wordStart = #"(?<![\p{L}\p{N}])"#
  static let wordEnd = #"(?=[^\p{L}\p{N}-])"#
  static let textEnd = #"(?=[^\p{L}\p{N}])"#

  static func patterns(_ answer: Answer) -> [String] {
    switch answer {
    case .numeric(let value, let tolerance):
      return numberPatterns(value, tolerance: max(tolerance, 1e-9 * max(1, abs(value))))
    case .choice(_, let correct):
      return correct.compactMap(textPattern)
    case .exact(let texts):
      return texts.compactMap(textPattern)
    case .regex(let pattern):
      var inner = pattern
      if inner.hasPrefix("^") { inner.removeFirst() }
      if inner.hasSuffix("$"), !inner.hasSuffix("\\$") { inner.removeLast() }
      guard !inner.isEmpty, (try? NSRegularExpression(pattern: inner)) != nil else { return [] }
      return [wordStart + "(?:" + inner + ")" + textEnd]
    }
  }

  /// A text matched whole, any case, with any run of white space between its words.
  static func textPattern(_ text: String) -> String? {
    let words = text.split(whereSeparator: \.isWhitespace).map {
      NSRegularExpression.escapedPattern(for: String($0))
    }
    guard !words.isEmpty else { return nil }
    let body = words.joined(separator: #"\s+"#)
    let start = text.first(where: { !$0.isWhitespace })?.isLetter == true || text.first?.isNumber == true
    let endsInWord = text.last(where: { !$0.isWhitespace }).map { $0.isLetter || $0.isNumber } ?? false
    return (start ? wordStart : "") + body + (endsInWord ? textEnd : "")
  }

  static func numberPatterns(_ value: Double, tolerance: Double) -> [String] {
    var patterns: [String] = []
    let sign = value < 0 ? #"(?:-|−|minus\s+|negative\s+)"# : ""
    let magnitude = abs(value)
    func near(_ x: Double) -> Bool { abs(x - magnitude) <= tolerance }

    // Decimals: each rounding within tolerance, any trailing zeros.
    var decimals: [String] = []
    for places in 0 ... 6 {
      let scale = pow(10, Double(places))
      let rounded = (magnitude * scale).rounded() / scale
      guard near(rounded) else { continue }
      let text = decimalText(rounded, places: places)
      if !decimals.contains(text) { decimals.append(text) }
    }
    for text in decimals {
      patterns.append(numberStart + sign + decimalPattern(text) + numberEnd)
    }
    // Percentages.
    for places in 0 ... 4 {
      let scale = pow(10, Double(places))
      let percent = (magnitude * 100 * scale).rounded() / scale
      guard near(percent / 100) else { continue }
      let number = decimalPattern(decimalText(percent, places: places))
      patterns.append(numberStart + sign + number + #"\s*(?:%|per\s*cent(?=[^\p{L}\p{N}]))"#)
    }
    // Fractions a/b (b ≤ 100, in any terms), and mixed numbers.
    if magnitude != magnitude.rounded() || magnitude == 0 {
      var fractions = 0
      for b in 2 ... 100 where fractions < 40 {
        let a = (magnitude * Double(b)).rounded()
        guard a > 0, near(a / Double(b)) else { continue }
        fractions += 1
        let slash = #"\s*(?:/|⁄|over|out\s+of)\s*"#
        patterns.append(numberStart + sign + "\(Int(a))" + slash + "\(b)" + numberEnd)
        let whole = Int(a) / b
        if whole > 0 {
          patterns.append(
            numberStart + sign + "\(whole)" + #"\s+(?:and\s+)?"# + "\(Int(a) % b)" + slash + "\(b)"
              + numberEnd
          )
        }
        if b <= 12, let words = fractionWords(numerator: Int(a), denominator: b) {
          patterns.append(wordStart + sign + words + wordEnd)
        }
      }
    }
    // Whole numbers in words.
    if magnitude == magnitude.rounded(), magnitude <= 1000, let words = NumberWords.pattern(Int(magnitude)) {
      patterns.append(wordStart + sign + words + wordEnd)
    }
    return patterns
  }

  /// `0.75` → `0?\.750*`; `12` → `12(?:\.0+)?`; thousands may have commas.
  static func decimalPattern(_ text: String) -> String {
    let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
    let integer = parts[0]
    var integerPattern: String
    if integer == "0" {
      integerPattern = parts.count > 1 ? "0?" : "0"
    } else {
      // Groups of three from the right, with an optional comma between.
      var groups: [String] = []
      var rest = Substring(integer)
      while rest.count > 3 {
        groups.insert(String(rest.suffix(3)), at: 0)
        rest = rest.dropLast(3)
      }
      groups.insert(String(rest), at: 0)
      integerPattern = groups.joined(separator: ",?")
    }
    if parts.count > 1 { return integerPattern + #"\."# + parts[1] + "0*" }
    return integerPattern + #"(?:\.0+)?"#
  }

  static func decimalText(_ x: Double, places: Int) -> String {
    var text = String(format: "%.\(places)f", x)
    if text.contains(".") {
      while text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
    }
    return text
  }

  /// `three quarters`, `three fourths`, `a half`, `two thirds`… for a/b in lowest terms or not.
  static func fractionWords(numerator a: Int, denominator b: Int) -> String? {
    let ordinals: [Int: (String, String)] = [
      2: ("half", "halves"), 3: ("third", "thirds"), 4: ("(?:quarter|fourth)", "(?:quarters|fourths)"),
      5: ("fifth", "fifths"), 6: ("sixth", "sixths"), 7: ("seventh", "sevenths"), 8: ("eighth", "eighths"),
      9: ("ninth", "ninths"), 10: ("tenth", "tenths"), 11: ("eleventh", "elevenths"),
      12: ("twelfth", "twelfths"),
    ]
    guard let (one, many) = ordinals[b], a >= 1, a < b, let count = NumberWords.pattern(a) else { return nil }
    return a == 1 ? "(?:a|one)[\\s-]+" + one : count + "[\\s-]+" + many
  }
}

/// English number words as patterns (`twenty[\s-]+one`), 0…1000.
enum NumberWords {
  static let units = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
  ]
  static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

  static func pattern(_ n: Int) -> String? {
    guard (0 ... 1000).contains(n) else { return nil }
    if n < 20 { return units[n] }
    if n < 100 { return tens[n / 10] + (n % 10 == 0 ? "" : #"[\s-]+"# + units[n % 10]) }
    if n == 1000 { return #"(?:one|a)\s+thousand"# }
    let hundreds = #"(?:"# + units[n / 100] + (n / 100 == 1 ? "|a" : "") + #")\s+hundred"#
    guard n % 100 != 0, let rest = pattern(n % 100) else { return hundreds }
    return hundreds + #"\s+(?:and\s+)?"# + rest
  }
}
