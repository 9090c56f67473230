import Foundation

/// A lesson file cut into its YAML front matter and Markdown body.
struct FrontMatterDocument {
  var yaml: String
  /// Lines of the file before the YAML text (the opening `---`).
  var yamlLineOffset: Int
  var body: String
  /// 1-based line of the file where the body starts.
  var bodyFirstLine: Int

  /// `nil` when the file does not start with a `---` line or the block is not closed.
  init?(text: String) {
    let lines = TextLines.split(text).map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    guard let first = lines.first, TextLines.trim(first) == "---" else { return nil }
    guard let end = lines.indices.dropFirst().first(where: { lines[$0] == "---" || lines[$0] == "..." })
    else {
      return nil
    }
    yaml = lines[1 ..< end].joined(separator: "\n")
    yamlLineOffset = 1
    body = lines[(end + 1)...].joined(separator: "\n")
    bodyFirstLine = end + 2
  }
}

/// A heading-delimited section of a lesson body.
struct MarkdownSection {
  var heading: String?
  var text: String
  /// 1-based file line of the heading (or of the first line for text before any heading).
  var line: Int
}

enum MarkdownSections {
  /// Splits at `#`, `##` and `###` headings outside fenced code blocks.
  static func split(_ body: String, firstLine: Int) -> [MarkdownSection] {
    var sections: [MarkdownSection] = []
    var current = MarkdownSection(heading: nil, text: "", line: firstLine)
    var lines: [String] = []
    var fence: Substring?
    for (i, line) in TextLines.split(body).enumerated() {
      let trimmed = line.drop { $0 == " " }
      if let f = fence {
        if trimmed.hasPrefix(f) { fence = nil }
      } else if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
        fence = trimmed.prefix(3)
      } else if line.prefix(while: { $0 == " " }).count <= 3, let heading = headingText(trimmed) {
        current.text = TextLines.trim(lines.joined(separator: "\n"))
        sections.append(current)
        current = MarkdownSection(heading: heading, text: "", line: firstLine + i)
        lines = []
        continue
      }
      lines.append(line)
    }
    current.text = TextLines.trim(lines.joined(separator: "\n"))
    sections.append(current)
    // Text before the first heading counts only when there is some.
    if let first = sections.first, first.heading == nil, first.text.isEmpty { sections.removeFirst() }
    return sections
  }

  private static func headingText(_ line: Substring) -> String? {
    let hashes = line.prefix { $0 == "#" }.count
    guard (1 ... 3).contains(hashes) else { return nil }
    let rest = line.dropFirst(hashes)
    guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
    var text = TextLines.trim(String(rest))
    while text.hasSuffix("#") { text.removeLast() }  // closing hashes of ATX headings
    return TextLines.trim(text)
  }

  /// A URL-fragment style id: lowercase letters and digits, other runs become one `-`.
  static func slug(_ heading: String) -> String {
    var out = ""
    var dash = false
    for ch in heading.lowercased() {
      if ch.isLetter || ch.isNumber {
        out.append(ch)
        dash = false
      } else if !dash, !out.isEmpty {
        out.append("-")
        dash = true
      }
    }
    while out.hasSuffix("-") { out.removeLast() }
    return out.isEmpty ? "section" : out
  }

  /// Paragraphs (blank-line separated, fenced code kept whole) grouped into parts of at most
  /// `maxTokens` tokens each; a single paragraph longer than that stays one part.
  static func chunks(_ text: String, maxTokens: Int, count: (String) -> Int) -> [String] {
    guard count(text) > maxTokens else { return [text] }
    var paragraphs: [String] = []
    var current: [String] = []
    var inFence = false
    for line in TextLines.split(text) {
      let t = line.drop { $0 == " " }
      if t.hasPrefix("```") || t.hasPrefix("~~~") { inFence.toggle() }
      if !inFence, TextLines.trim(line).isEmpty {
        if !current.isEmpty { paragraphs.append(current.joined(separator: "\n")) }
        current = []
      } else {
        current.append(line)
      }
    }
    if !current.isEmpty { paragraphs.append(current.joined(separator: "\n")) }
    var parts: [String] = []
    var part = ""
    for p in paragraphs {
      let candidate = part.isEmpty ? p : part + "\n\n" + p
      if !part.isEmpty, count(candidate) > maxTokens {
        parts.append(part)
        part = p
      } else {
        part = candidate
      }
    }
    if !part.isEmpty { parts.append(part) }
    return parts
  }
}

/// How lesson bodies become snippets.
public struct SnippetOptions: Sendable {
  /// Sections longer than this are split on paragraph boundaries.
  public var maxTokens: Int
  /// Counts tokens of a text; the default estimates GPT-2 tokens (about 4 characters or 0.75
  /// words each), and the server passes the model's real tokenizer.
  public var countTokens: @Sendable (String) -> Int

  public init(
    maxTokens: Int = 200,
    countTokens: @escaping @Sendable (String) -> Int = SnippetOptions.estimateTokens
  ) {
    self.maxTokens = maxTokens
    self.countTokens = countTokens
  }

  public static func estimateTokens(_ text: String) -> Int {
    var words = 0
    var inWord = false
    for b in text.utf8 {
      let space = b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D
      if !space, !inWord { words += 1 }
      inWord = !space
    }
    return max(words * 4 / 3, text.utf8.count / 4)
  }
}

/// Line splitting and trimming on UTF-8 bytes: `String.split` on Characters runs grapheme
/// breaking on every character, which made loading 10,000 lessons take a minute.
enum TextLines {
  static func split(_ text: String) -> [String] {
    text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map {
      String(decoding: $0, as: UTF8.self)
    }
  }

  /// Removes leading and trailing Unicode whitespace.
  static func trim(_ text: String) -> String {
    let scalars = text.unicodeScalars
    guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
    let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
    return String(scalars[start ... end])
  }
}
