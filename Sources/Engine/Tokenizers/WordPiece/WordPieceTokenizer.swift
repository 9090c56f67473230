import Foundation

/// BERT's WordPiece tokenizer, token for token what the `tokenizers` library gives for a
/// `BertNormalizer` + `BertPreTokenizer` + `WordPiece` model with the `[CLS] A [SEP]` template.
///
/// Each word (see ``BertTextNormalizer``) is split greedily into the longest vocabulary pieces
/// from its start, pieces after the first carrying the `##` prefix; a word with a part no piece
/// matches, or longer than `maxInputCharactersPerWord`, becomes `[UNK]` as a whole.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer.load(directory: URL(fileURLWithPath: "models/all-MiniLM-L6-v2"))
/// let ids = tokenizer.encode("Why are leaves green?")   // [101, 2339, 2024, 3727, 2665, 1029, 102]
/// ```
public struct WordPieceTokenizer: Sendable {
  let normalizer: BertTextNormalizer
  private let vocabulary: [String: Int]
  private let tokens: [String]
  let continuingPrefix: String
  let maxInputCharactersPerWord: Int
  public let unknownId: Int
  public let classifierId: Int
  public let separatorId: Int

  public var vocabularySize: Int { tokens.count }

  init(
    vocabulary tokens: [String],
    normalizer: BertTextNormalizer,
    unknownToken: String = "[UNK]",
    continuingPrefix: String = "##",
    maxInputCharactersPerWord: Int = 100,
    source: String
  ) throws {
    var vocabulary: [String: Int] = [:]
    vocabulary.reserveCapacity(tokens.count)
    // A token listed twice keeps its first id, as `tokenizers` reads vocab.txt.
    for (id, token) in tokens.enumerated() where vocabulary[token] == nil { vocabulary[token] = id }
    func id(_ token: String) throws -> Int {
      guard let id = vocabulary[token] else {
        throw EngineError.invalidTokenizer(path: source, reason: "the vocabulary has no \(token) token")
      }
      return id
    }
    unknownId = try id(unknownToken)
    classifierId = try id("[CLS]")
    separatorId = try id("[SEP]")
    self.vocabulary = vocabulary
    self.tokens = tokens
    self.normalizer = normalizer
    self.continuingPrefix = continuingPrefix
    self.maxInputCharactersPerWord = maxInputCharactersPerWord
  }

  /// Token ids of `text` as `[CLS] pieces… [SEP]`, cut to `maxLength` tokens in all (the pieces
  /// are truncated, the special tokens kept), as sentence-transformers truncates.
  public func encode(_ text: String, maxLength: Int? = nil) -> [Int] {
    var ids = [classifierId]
    let budget = maxLength.map { max(0, $0 - 2) } ?? .max
    outer: for word in normalizer.words(text) {
      for piece in pieces(of: word) {
        if ids.count - 1 >= budget { break outer }
        ids.append(piece)
      }
    }
    ids.append(separatorId)
    return ids
  }

  /// The token strings of ids (for display and tests).
  public func tokens(of ids: [Int]) -> [String] {
    ids.map { $0 >= 0 && $0 < tokens.count ? tokens[$0] : "[UNK]" }
  }

  /// Greedy longest-match-first pieces of one normalised word.
  func pieces(of word: String) -> [Int] {
    let characters = Array(word.unicodeScalars)
    guard characters.count <= maxInputCharactersPerWord else { return [unknownId] }
    var result: [Int] = []
    var start = 0
    while start < characters.count {
      var end = characters.count
      var found: Int?
      while start < end {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: characters[start ..< end])
        let candidate = start > 0 ? continuingPrefix + String(view) : String(view)
        if let id = vocabulary[candidate] {
          found = id
          break
        }
        end -= 1
      }
      guard let found else { return [unknownId] }
      result.append(found)
      start = end
    }
    return result
  }
}

extension WordPieceTokenizer {
  /// Loads the tokenizer of a BERT checkpoint directory: `tokenizer.json` when present (its
  /// normaliser settings and WordPiece model), else `vocab.txt` with `tokenizer_config.json`'s
  /// `do_lower_case` / `strip_accents` / `tokenize_chinese_chars`.
  public static func load(directory: URL) throws -> WordPieceTokenizer {
    let fm = FileManager.default
    let json = directory.appendingPathComponent("tokenizer.json")
    if fm.fileExists(atPath: json.path) { return try load(tokenizerJSON: json) }
    let vocab = directory.appendingPathComponent("vocab.txt")
    guard let text = try? String(contentsOf: vocab, encoding: .utf8) else {
      throw EngineError.fileNotFound(path: vocab.path)
    }
    var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    if lines.last == "" { lines.removeLast() }
    var normalizer = BertTextNormalizer()
    let configURL = directory.appendingPathComponent("tokenizer_config.json")
    if let data = try? Data(contentsOf: configURL),
      let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    {
      normalizer.lowercase = config["do_lower_case"] as? Bool ?? true
      normalizer.stripAccents = config["strip_accents"] as? Bool ?? normalizer.lowercase
      normalizer.handleChineseCharacters = config["tokenize_chinese_chars"] as? Bool ?? true
    }
    return try WordPieceTokenizer(vocabulary: lines, normalizer: normalizer, source: vocab.path)
  }

  /// Loads a `tokenizers` `tokenizer.json` holding a WordPiece model with a BERT normaliser.
  public static func load(tokenizerJSON url: URL) throws -> WordPieceTokenizer {
    func fail(_ reason: String) -> EngineError { .invalidTokenizer(path: url.path, reason: reason) }
    guard let data = try? Data(contentsOf: url) else { throw EngineError.fileNotFound(path: url.path) }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw fail("not a JSON object")
    }
    guard let model = root["model"] as? [String: Any], model["type"] as? String == "WordPiece",
      let vocab = model["vocab"] as? [String: Int]
    else { throw fail("model is not a WordPiece model with a vocab object") }
    var tokens = [String](repeating: "", count: (vocab.values.max() ?? -1) + 1)
    for (token, id) in vocab {
      guard id >= 0 else { throw fail("negative id \(id) for '\(token)'") }
      tokens[id] = token
    }
    var normalizer = BertTextNormalizer()
    if let n = root["normalizer"] as? [String: Any] {
      guard n["type"] as? String == "BertNormalizer" else {
        throw fail("normalizer '\(n["type"] ?? "?")' is not supported (BertNormalizer is)")
      }
      normalizer.cleanText = n["clean_text"] as? Bool ?? true
      normalizer.handleChineseCharacters = n["handle_chinese_chars"] as? Bool ?? true
      normalizer.lowercase = n["lowercase"] as? Bool ?? true
      // `strip_accents: null` follows `lowercase`.
      normalizer.stripAccents = n["strip_accents"] as? Bool ?? normalizer.lowercase
    }
    return try WordPieceTokenizer(
      vocabulary: tokens,
      normalizer: normalizer,
      unknownToken: model["unk_token"] as? String ?? "[UNK]",
      continuingPrefix: model["continuing_subword_prefix"] as? String ?? "##",
      maxInputCharactersPerWord: model["max_input_chars_per_word"] as? Int ?? 100,
      source: url.path
    )
  }
}
