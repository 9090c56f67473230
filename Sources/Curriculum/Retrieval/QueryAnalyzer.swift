/// Turns a student's question into an FTS5 query.
///
/// - Notation becomes words (`20%` → percent, `3/4` → fraction, `2:3` → ratio, `==` → equal), since
///   the index's tokenizer drops symbols.
/// - Words are Unicode letters and digits, case-folded; English stop words are dropped.
/// - Each word is also searched as a prefix (`percent` finds `percentage`, `simpler` finds
///   `simplify`), and expanded with the curriculum's synonyms (the words students use for its terms).
/// - Every term is quoted, so FTS5 operators typed by a student mean nothing, and terms are OR-ed;
///   FTS5's `porter unicode61` tokenizer then stems and folds them as it did the snippets.
package enum QueryAnalyzer {
  /// English stop words (the Snowball list, as Lucene and NLTK use it), plus question filler.
  static let stopWords: Set<String> = [
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
    "be",
    "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did",
    "do",
    "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
    "having",
    "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
    "it",
    "its", "itself", "just", "me", "more", "most", "my", "myself", "of", "off", "on", "once", "only", "or",
    "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
    "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
    "yourself",
    "yourselves", "s", "t", "d", "ll", "m", "re", "ve", "also", "get", "got", "mean", "means", "tell",
    "explain",
    "please", "really", "something", "thing", "things", "like", "one", "way", "ways", "happen", "happens",
    "know", "need", "don", "doesn", "isn", "won", "didn", "can't", "won't",
  ]

  /// Words for notation the tokenizer would drop.
  static func describeNotation(_ text: String) -> String {
    var extra: [String] = []
    let scalars = Array(text.unicodeScalars)
    func isDigit(_ i: Int) -> Bool { i >= 0 && i < scalars.count && ("0" ... "9").contains(scalars[i]) }
    for (i, s) in scalars.enumerated() {
      switch s {
      case "%": extra.append("percent")
      case "/" where isDigit(i - 1) && isDigit(i + 1): extra.append("fraction")
      case ":" where isDigit(i - 1) && isDigit(i + 1): extra.append("ratio")
      case "=" where i + 1 < scalars.count && scalars[i + 1] == "=": extra.append("equal comparison")
      case "×", "*": extra.append("multiply")
      case "÷": extra.append("divide")
      case "+": extra.append("add")
      default: break
      }
    }
    return extra.isEmpty ? text : text + " " + extra.joined(separator: " ")
  }

  /// Lowercased words of `text` (letters and digits), in order.
  static func words(_ text: String) -> [String] {
    var out: [String] = []
    var current = ""
    for ch in text.lowercased() {
      if ch.isLetter || ch.isNumber {
        current.append(ch)
      } else if !current.isEmpty {
        out.append(current)
        current = ""
      }
    }
    if !current.isEmpty { out.append(current) }
    return out
  }

  /// One thing a query looks for.
  enum Term: Hashable {
    /// A word, analysed (folded, stemmed) like the snippets.
    case word(String)
    /// Any indexed term starting with this text once stemmed (as FTS5 treats `text*`); kept
    /// folded but unstemmed here.
    case prefix(String)
  }

  /// The terms of a question, or none when it has no words at all.
  /// - Parameters:
  ///   - synonyms: student word → the curriculum terms it stands for.
  ///   - expand: false gives the plain words only (no notation words, prefixes or synonyms).
  static func terms(_ text: String, synonyms: [String: [String]] = [:], expand: Bool = true) -> [Term] {
    let all = words(expand ? describeNotation(text) : text)
    var kept = all.filter { !stopWords.contains($0) }
    if kept.isEmpty { kept = all }  // a question made only of stop words still searches
    var terms: [Term] = []
    var seen: Set<Term> = []
    func add(_ term: Term) { if seen.insert(term).inserted { terms.append(term) } }
    for word in kept {
      add(.word(word))
      guard expand else { continue }
      // A prefix catches derived forms the stemmer keeps apart (percent/percentage).
      if word.count > prefixMinimumWordLength, word.allSatisfy(\.isLetter) {
        add(.prefix(TextAnalyzer.fold(String(word.prefix(max(prefixMinimumLength, word.count - 3))))))
      }
      for term in synonyms[word] ?? [] { add(.word(term)) }
    }
    return terms
  }

  static let prefixMinimumWordLength = 4
  static let prefixMinimumLength = 4

  /// The same query as an FTS5 MATCH expression (every word quoted, so that FTS5 syntax typed by a
  /// student means nothing); `nil` without words.
  package static func matchExpression(
    _ text: String,
    synonyms: [String: [String]] = [:],
    expand: Bool = true
  ) -> String? {
    let terms = terms(text, synonyms: synonyms, expand: expand)
    guard !terms.isEmpty else { return nil }
    return terms.map { term -> String in
      switch term {
      case .word(let w): return "\"\(w)\""
      case .prefix(let p): return "\(p)*"
      }
    }.joined(separator: " OR ")
  }
}
