import Foundation

/// Holds a streaming answer back until each word is complete and screened, so that what fails
/// screening never reaches the student whole: the text up to the last white space is screened
/// (``MessageScreen``, without personal data) and released if clean; the rest waits for more.
/// A failure withholds the answer, and the student reads the configured message in its place.
struct AnswerGate {
  let screen: MessageScreen
  /// The end of the text screened on each release (the whole answer is screened at the end):
  /// patterns span a few words, and a window keeps each check cheap however long the answer.
  static let window = 320

  private(set) var text = ""
  /// How much of `text` went to the student (UTF-16 offset, never inside a character).
  private var released = 0
  private(set) var findings: [MessageScreen.Finding] = []

  init(screen: MessageScreen) { self.screen = screen }

  var isWithheld: Bool { !findings.isEmpty }

  /// Takes the next piece of the answer; returns the text the student may read now (possibly
  /// empty), or nil once the answer is withheld.
  mutating func offer(_ piece: String) -> String? {
    guard !isWithheld else { return nil }
    text += piece
    let utf16 = text.utf16
    // Release up to (and including) the last white space: the words before it are complete.
    guard let lastSpace = text.lastIndex(where: \.isWhitespace) else { return "" }
    let end = utf16.distance(from: utf16.startIndex, to: text.index(after: lastSpace))
    guard end > released else { return "" }
    let complete = String(text[..<text.index(after: lastSpace)])
    let found = screen.screen(String(complete.suffix(Self.window)), personalData: false)
    guard found.isEmpty else {
      findings = found
      return nil
    }
    let startIndex = String.Index(utf16Offset: released, in: text)
    released = end
    return String(text[startIndex ..< text.index(after: lastSpace)])
  }

  /// The end of the answer, given the final text (the engine's, which may differ from the
  /// pieces at a stop sequence, or be cut short): what is left to release, or nil when the
  /// answer is withheld.
  mutating func finish(finalText: String) -> String? {
    guard !isWithheld else { return nil }
    let found = screen.screen(finalText, personalData: false)
    guard found.isEmpty else {
      findings = found
      return nil
    }
    let offset = min(released, finalText.utf16.count)
    return String(finalText[String.Index(utf16Offset: offset, in: finalText)...])
  }

  /// Whether the student has read more than `finalText`, or other text (it is to replace what
  /// they read).
  func releasedBeyond(_ finalText: String) -> Bool {
    let sent = String(text.utf16.prefix(released)) ?? ""
    return !finalText.hasPrefix(sent)
  }
}
