import Foundation

/// Text a generation must not write, as regular expressions (ICU syntax, matched
/// case-insensitively). A token is not chosen when appending it to the text generated so far
/// would add a match: greedy decoding takes the next most likely token, sampling draws again from
/// the others (the distribution renormalised without it), and after a few such choices in one step
/// the generation stops. Tokens are judged by their text, so every way of spelling the text in
/// tokens is covered.
///
/// A pattern that should only match a whole word or number says what must follow it with a
/// lookahead that needs a character (`(?=[^\w])`), not an end anchor: while text is generated,
/// its end is not the end of the word.
public struct BannedText: Sendable, Equatable {
  public var patterns: [String]

  public init(patterns: [String] = []) { self.patterns = patterns }

  public var isEmpty: Bool { patterns.isEmpty }

  /// Tokens ruled out in one step before the generation stops (finish reason `stopSequence`)
  /// rather than write around the banned text with ever less likely tokens.
  public static let redrawsBeforeStopping = 3

  /// Throws ``EngineError/invalidParameter(name:reason:)`` for a pattern that does not compile.
  public func validate() throws {
    for pattern in patterns {
      do {
        _ = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
      } catch {
        throw EngineError.invalidParameter(name: "banned_text", reason: "/\(pattern)/ does not compile")
      }
    }
  }
}

/// The banned patterns compiled into one expression, and the count of matches in the text
/// generated so far.
final class BannedTextMatcher: @unchecked Sendable {
  // NSRegularExpression is immutable after creation and safe to share; each sequence has its own.
  private let expression: NSRegularExpression
  private let decode: ([Int]) -> String
  private var knownLength = -1
  private var knownMatches = 0

  init?(_ banned: BannedText, decode: @escaping ([Int]) -> String) {
    guard !banned.isEmpty,
      let expression = try? NSRegularExpression(
        pattern: banned.patterns.map { "(?:\($0))" }.joined(separator: "|"),
        options: [.caseInsensitive]
      )
    else { return nil }
    self.expression = expression
    self.decode = decode
  }

  private func matches(_ text: String) -> Int {
    expression.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
  }

  /// Whether `token` after `generated` makes the text match a banned pattern more often.
  func forbids(_ token: Int, after generated: [Int]) -> Bool {
    if knownLength != generated.count {
      knownMatches = matches(decode(generated))
      knownLength = generated.count
    }
    return matches(decode(generated + [token])) > knownMatches
  }
}
