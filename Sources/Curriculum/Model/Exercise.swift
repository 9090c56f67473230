import Foundation

/// A question with an answer the server can check.
public struct Exercise: Sendable, Equatable {
  public var id: String
  public var prompt: String
  public var answer: Answer
  /// Revealed one by one after wrong answers.
  public var hints: [String]
  /// The objective the exercise assesses.
  public var objective: String?
  /// Shown after a correct answer, when present.
  public var explanation: String?
}

/// How a student's response is judged.
public enum Answer: Sendable, Equatable {
  /// Any of these texts, ignoring case and runs of whitespace.
  case exact([String])
  /// A number within `tolerance` of `value`; responses may be decimals, fractions (`3/4`), mixed
  /// numbers (`1 1/2`) or percentages (`75%`).
  case numeric(value: Double, tolerance: Double)
  /// One of `choices`; correct when it names one of `correct`.
  case choice(choices: [String], correct: [String])
  /// The whole (trimmed) response matches the pattern, case-insensitively.
  case regex(String)

  /// Whether `response` is a correct answer.
  public func accepts(_ response: String) -> Bool {
    let given = Self.normalise(response)
    switch self {
    case .exact(let texts):
      return texts.contains { Self.normalise($0) == given }
    case .numeric(let value, let tolerance):
      guard let number = Self.parseNumber(response) else { return false }
      return abs(number - value) <= max(tolerance, 1e-9 * max(1, abs(value)))
    case .choice(_, let correct):
      return correct.contains { Self.normalise($0) == given }
    case .regex(let pattern):
      guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$", options: [.caseInsensitive])
      else { return false }
      let text = response.trimmingCharacters(in: .whitespacesAndNewlines)
      return re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
  }

  /// Lowercased, trimmed, inner whitespace runs collapsed to one space.
  static func normalise(_ s: String) -> String {
    s.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
  }

  /// Decimal, fraction, mixed number or percentage → value.
  public static func parseNumber(_ raw: String) -> Double? {
    var s = raw.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: ",", with: "")
    var scale = 1.0
    if s.hasSuffix("%") {
      s.removeLast()
      scale = 0.01
    }
    let parts = s.split(separator: " ", omittingEmptySubsequences: true)
    func fraction(_ t: Substring) -> Double? {
      let nd = t.split(separator: "/", omittingEmptySubsequences: false)
      if nd.count == 2, let n = Double(nd[0]), let d = Double(nd[1]), d != 0 { return n / d }
      if nd.count == 1 { return Double(t) }
      return nil
    }
    switch parts.count {
    case 1:
      return fraction(parts[0]).map { $0 * scale }
    case 2:  // mixed number "1 1/2" (or "-1 1/2")
      guard let whole = Double(parts[0]), parts[1].contains("/"), let frac = fraction(parts[1]), frac >= 0
      else { return nil }
      return (whole < 0 || parts[0].hasPrefix("-") ? whole - frac : whole + frac) * scale
    default:
      return nil
    }
  }
}
