import Foundation
import Metrics

/// Personal data a child may type into a question or an answer — email addresses, phone
/// numbers, street addresses, and (where a deployment asks for it) a name given as "my name is
/// …" — replaced by a placeholder (`[email]`, `[phone]`, `[address]`, `[name]`) before the text
/// is stored, put in a prompt or exported. The original is never stored or logged.
///
/// Patterns, not a model: each kind has a shape that is cheap to recognise, and the look-alikes
/// in lessons (fractions, decimals, years, ratios, times, long multiplication) are kept out by
/// rules measured in `PersonalDataTests`.
public struct PersonalDataRedactor: Sendable {
  public enum Kind: String, Sendable, CaseIterable {
    case email, phone, address, name

    public var placeholder: String { "[\(rawValue)]" }
  }

  /// Whether "my name is Sam" becomes "my name is [name]" (off by default: a first name alone
  /// identifies little, and tutoring often starts with one).
  public var redactNames: Bool

  public init(redactNames: Bool = false) { self.redactNames = redactNames }

  /// `text` with every piece of personal data replaced, and the kinds found (in order, once
  /// each).
  public func redact(_ text: String) -> (text: String, found: [Kind]) {
    var text = text
    var found: [Kind] = []
    for (kind, expression) in Self.expressions where kind != .name || redactNames {
      let replaced = Self.replace(expression, in: text, kind: kind)
      if replaced != text {
        found.append(kind)
        text = replaced
      }
    }
    for kind in found {
      Counter(label: "tutor_redactions_total", dimensions: [("kind", kind.rawValue)]).increment()
    }
    return (text, found)
  }

  // The order matters: an email's digits are not a phone number, and an address's house number
  // is taken with its street before anything else reads it.
  private static let expressions: [(Kind, NSRegularExpression)] = [
    (.email, regex(#"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"#)),
    // Spelled out to get past filters ("jo dot bloggs at gmail dot com"): only with a mail
    // provider's name, so that "look at the dot com bubble" stays as it is.
    (
      .email,
      regex(
        #"(?i)\b[a-z0-9._%+\-]+(?:\s+dot\s+[a-z0-9._%+\-]+)*\s*(?:\(at\)|\[at\]|\s+at\s+)\s*(?:gmail|googlemail|hotmail|yahoo|outlook|icloud|aol|live|msn|btinternet|protonmail|proton|ymail|mail)\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*(?:co\s*(?:\.|\s+dot\s+)\s*uk|com|co|uk|net|org|me|de|fr)\b"#
      )
    ),
    (
      .address,
      regex(
        #"(?i)\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Za-z][A-Za-z'\-]+\s+){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|court|ct|boulevard|blvd|place|pl|crescent|terrace|gardens|grove|parkway|highway|hwy|square|sq)\b\.?"#
      )
    ),
    // "I live at/on …" up to the end of the clause, when it names a place with a number in it.
    (.address, regex(#"(?i)(?<=\bi live (?:at|on) )(?=[^.,!?\n]*\d)[^.,!?\n]{3,60}"#)),
    // UK postcodes (SW1A 1AA, M1 1AE).
    (.address, regex(#"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b"#)),
    (
      .phone,
      regex(#"(?<![\w/.,:])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,5}\)\s?)?\d[\d\s.\-]{5,18}\d(?![\w/]|[.,:]\d)"#)
    ),
    (
      .name,
      regex(
        #"(?i)(?<=\b(?:my name is|my name's|i am called|i'm called|call me)\s)[A-Z][a-z'\-]+(?:\s+[A-Z][a-z'\-]+)?"#
      )
    ),
  ]

  private static func regex(_ pattern: String) -> NSRegularExpression {
    // The patterns are constants: one that does not compile is a bug, caught by the tests.
    try! NSRegularExpression(pattern: pattern)
  }

  private static func replace(_ expression: NSRegularExpression, in text: String, kind: Kind) -> String {
    let whole = NSRange(text.startIndex..., in: text)
    var result = text
    // Backwards, so that earlier ranges stay valid.
    for match in expression.matches(in: text, range: whole).reversed() {
      guard let range = Range(match.range, in: text) else { continue }
      let candidate = text[range]
      if kind == .phone, !isPhoneNumber(candidate) { continue }
      if kind == .name, !(candidate.first?.isUppercase ?? false) { continue }
      guard let target = Range(match.range, in: result) else { continue }
      result.replaceSubrange(target, with: kind.placeholder)
    }
    return result
  }

  /// A run of digits and separators is a phone number when it has 7 to 15 digits and looks
  /// dialled, not computed: it starts with `+`, `0` or `(`, or groups its digits as phone
  /// numbers are written (3-3-4, 3-4, 4-3-3 …), or is 10 digits or more in one piece. A decimal
  /// (`3.14159`), a year range (`1914-1918`), a date or a number written with thousands
  /// separators (`1 000 000`) is not.
  static func isPhoneNumber(_ candidate: Substring) -> Bool {
    let digits = candidate.filter(\.isNumber)
    guard (7 ... 15).contains(digits.count) else { return false }
    let trimmed = candidate.trimmingCharacters(in: .whitespaces)
    let groups = trimmed.split { !$0.isNumber }.map(\.count)
    // A decimal number: one dot between two runs of digits.
    if trimmed.filter({ $0 == "." }).count == 1, groups.count == 2 { return false }
    // Thousands separators: groups of three after the first.
    if groups.count > 1, groups.dropFirst().allSatisfy({ $0 == 3 }), groups[0] <= 3 { return false }
    // Two four-digit groups: years (1914-1918), not a number to dial; and dates (02.12.2026).
    if groups == [4, 4] { return false }
    if groups.count == 3, groups.contains(4), groups.filter({ $0 <= 2 }).count == 2 { return false }
    if trimmed.hasPrefix("+") || trimmed.hasPrefix("0") || trimmed.hasPrefix("(") { return true }
    if groups.count == 1 { return digits.count >= 10 }
    return groups.count >= 2 && groups.allSatisfy { (2 ... 5).contains($0) } && groups.last! >= 3
  }
}
