/// Finds caller-given stop strings in generated text as it streams, and holds back text that
/// might be the start of one, so that no part of a stop string is ever emitted.
///
/// Works on UTF-8 bytes: stop strings begin with a lead byte, so every cut falls between
/// characters.
struct StopSequenceMatcher {
  private let stops: [[UInt8]]
  private(set) var text: [UInt8] = []
  private var emitted = 0

  init(_ stops: [String]) { self.stops = stops.map { Array($0.utf8) }.filter { !$0.isEmpty } }

  enum Step {
    /// Text safe to emit now (may be empty).
    case emit(String)
    /// A stop string was found: the text before it that was not yet emitted.
    case stop(String)
  }

  mutating func append(_ delta: String) -> Step {
    let before = text.count
    text.append(contentsOf: delta.utf8)
    // Earliest occurrence that involves the new bytes.
    var found: Int?
    for stop in stops {
      let from = max(0, before - stop.count + 1)
      guard text.count >= stop.count, from <= text.count - stop.count else { continue }
      for start in from ... (text.count - stop.count) where text[start] == stop[0] {
        if text[start ..< (start + stop.count)].elementsEqual(stop) {
          if found == nil || start < found! { found = start }
          break
        }
      }
    }
    if let found {
      let out = String(decoding: text[emitted ..< max(found, emitted)], as: UTF8.self)
      text.removeSubrange(found...)
      emitted = text.count
      return .stop(out)
    }
    // Hold back the longest suffix that is a proper prefix of a stop string.
    var hold = 0
    for stop in stops {
      for length in stride(from: min(stop.count - 1, text.count), to: hold, by: -1)
      where text[(text.count - length)...].elementsEqual(stop[0 ..< length]) {
        hold = length
        break
      }
    }
    let end = max(emitted, text.count - hold)
    let out = String(decoding: text[emitted ..< end], as: UTF8.self)
    emitted = end
    return .emit(out)
  }

  /// Text still held back when generation ends for another reason.
  mutating func flush() -> String {
    let out = String(decoding: text[emitted...], as: UTF8.self)
    emitted = text.count
    return out
  }

  /// All text accepted so far (stop string excluded).
  var fullText: String { String(decoding: text, as: UTF8.self) }
}
