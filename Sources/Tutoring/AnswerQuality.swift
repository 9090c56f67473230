import Foundation

/// Scores of one answer, as `tutor eval answers` reports them. Fluency (perplexity under an
/// independent reference model) is added by `tools/eval/fluency.py`; everything else is here.
///
/// - `grounded`: share of the answer's content words (words not in ``stopWords``) that occur in
///   the notes that answer the question (the labelled relevant snippets);
/// - `english`: share of the answer's words found in an English word list (Debian's `wamerican`);
/// - `distinctTrigrams`: distinct word 3-grams over all 3-grams (1: nothing repeated);
/// - `words`: the answer's length in words.
///
/// An answer is **useful** when english ≥ 0.9, distinctTrigrams ≥ 0.9, grounded ≥ 0.5 and it has
/// at least 8 words; **useful and fluent** when its perplexity is also ≤ 60.
public struct AnswerQuality: Sendable, Equatable, Codable {
  public var words: Int
  public var english: Double
  public var distinctTrigrams: Double
  public var grounded: Double

  public static let minimumEnglish = 0.9
  public static let minimumDistinctTrigrams = 0.9
  public static let minimumGrounded = 0.5
  public static let minimumWords = 8
  public static let maximumPerplexity = 60.0

  public var isUseful: Bool {
    english >= Self.minimumEnglish && distinctTrigrams >= Self.minimumDistinctTrigrams
      && grounded >= Self.minimumGrounded && words >= Self.minimumWords
  }

  /// Scores `answer` against the texts of the notes that answer its question.
  public init(answer: String, relevantNotes: [String], dictionary: Set<String>) {
    let tokens = Self.words(answer)
    words = tokens.count
    let alphabetic = tokens.filter { $0.contains(where: \.isLetter) }
    english =
      alphabetic.isEmpty
      ? 0
      : Double(alphabetic.filter { Self.isEnglish($0, dictionary: dictionary) }.count)
        / Double(alphabetic.count)
    if tokens.count < 3 {
      distinctTrigrams = 1
    } else {
      let grams = (0 ... tokens.count - 3).map { tokens[$0 ..< $0 + 3].joined(separator: " ") }
      distinctTrigrams = Double(Set(grams).count) / Double(grams.count)
    }
    let noteWords = Set(relevantNotes.flatMap(Self.words))
    let content = tokens.filter { !Self.stopWords.contains($0) }
    grounded = content.isEmpty ? 0 : Double(content.filter(noteWords.contains).count) / Double(content.count)
  }

  /// Lowercased words: runs of letters and digits (an apostrophe inside a word is kept).
  public static func words(_ text: String) -> [String] {
    var result: [String] = []
    var current = ""
    let characters = Array(text.lowercased())
    for (i, c) in characters.enumerated() {
      if c.isLetter || c.isNumber {
        current.append(c)
      } else if c == "'" || c == "’", !current.isEmpty, i + 1 < characters.count, characters[i + 1].isLetter {
        current.append("'")
      } else if !current.isEmpty {
        result.append(current)
        current = ""
      }
    }
    if !current.isEmpty { result.append(current) }
    return result
  }

  static func isEnglish(_ word: String, dictionary: Set<String>) -> Bool {
    if word.allSatisfy(\.isNumber) { return true }
    if dictionary.contains(word) { return true }
    if word.hasSuffix("'s"), dictionary.contains(String(word.dropLast(2))) { return true }
    return false
  }

  /// The word list of Debian's `wamerican` (`/usr/share/dict/words`), lowercased.
  public static func loadDictionary(path: String = "/usr/share/dict/words") throws -> Set<String> {
    Set(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.lowercased() })
  }

  /// Function words that carry no content (grounding counts the other words).
  public static let stopWords: Set<String> = [
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did",
    "do",
    "does", "doing", "don't", "down", "each", "either", "even", "every", "few", "for", "from", "further",
    "get",
    "gets", "got", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i",
    "if",
    "in", "into", "is", "it", "it's", "its", "just", "let", "like", "may", "me", "might", "more", "most",
    "much",
    "must", "my", "no", "nor", "not", "now", "of", "off", "often", "on", "once", "one", "only", "or", "other",
    "our", "out", "over", "own", "same", "says", "she", "should", "so", "some", "such", "than", "that",
    "that's", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to",
    "too",
    "under", "until", "up", "us", "use", "used", "uses", "using", "very", "was", "way", "we", "well", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "yes", "yet",
    "you", "your", "yours", "you're", "what's", "there's", "isn't", "can't", "won't", "doesn't",
  ]
}
