import Foundation

extension GPT2Tokenizer {
  /// Loads the tokenizer of a checkpoint directory: `vocab.json` + `merges.txt`, or else
  /// `tokenizer.json` (a `tokenizers` BPE model with a ByteLevel pre-tokenizer).
  public static func load(directory: URL) throws -> GPT2Tokenizer {
    let fm = FileManager.default
    let vocab = directory.appendingPathComponent("vocab.json")
    let merges = directory.appendingPathComponent("merges.txt")
    let json = directory.appendingPathComponent("tokenizer.json")
    if fm.fileExists(atPath: vocab.path), fm.fileExists(atPath: merges.path) {
      return try load(vocabulary: vocab, merges: merges)
    }
    if fm.fileExists(atPath: json.path) { return try load(tokenizerJSON: json) }
    throw EngineError.fileNotFound(
      path: fm.fileExists(atPath: vocab.path) ? merges.path : vocab.path
    )
  }

  /// Loads GPT-2's `vocab.json` and `merges.txt`; `<|endoftext|>` becomes a special token.
  public static func load(vocabulary vocabURL: URL, merges mergesURL: URL) throws -> GPT2Tokenizer {
    let vocabulary: [String: Int]
    do {
      vocabulary = try JSONDecoder().decode([String: Int].self, from: Data(contentsOf: vocabURL))
    } catch let error as DecodingError {
      throw EngineError.invalidTokenizer(path: vocabURL.path, reason: error.readableDescription)
    } catch {
      throw EngineError.fileNotFound(path: vocabURL.path)
    }
    guard let text = try? String(contentsOf: mergesURL, encoding: .utf8) else {
      throw EngineError.invalidTokenizer(path: mergesURL.path, reason: "unreadable or not UTF-8")
    }
    var merges: [(String, String)] = []
    merges.reserveCapacity(50_000)
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = line.hasSuffix("\r") ? line.dropLast() : line
      if line.isEmpty || (n == 0 && line.hasPrefix("#version")) { continue }
      let parts = line.split(separator: " ", omittingEmptySubsequences: false)
      guard parts.count == 2 else {
        throw EngineError.invalidTokenizer(
          path: "\(mergesURL.path):\(n + 1)",
          reason: "expected two tokens separated by one space"
        )
      }
      merges.append((String(parts[0]), String(parts[1])))
    }
    let special = vocabulary["<|endoftext|>"].map { ["<|endoftext|>": $0] } ?? [:]
    return try GPT2Tokenizer(
      vocabulary: vocabulary,
      merges: merges,
      specialTokens: special,
      source: mergesURL.path
    )
  }

  /// Loads a `tokenizers` `tokenizer.json` holding a byte-level BPE model.
  public static func load(tokenizerJSON url: URL) throws -> GPT2Tokenizer {
    func fail(_ reason: String) -> EngineError { .invalidTokenizer(path: url.path, reason: reason) }
    guard let data = try? Data(contentsOf: url) else { throw EngineError.fileNotFound(path: url.path) }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw fail("not a JSON object")
    }
    guard let model = root["model"] as? [String: Any], (model["type"] as? String ?? "BPE") == "BPE",
      let vocabAny = model["vocab"] as? [String: Any]
    else { throw fail("'model' must be a BPE model with a 'vocab'") }
    var vocabulary: [String: Int] = [:]
    for (token, id) in vocabAny {
      guard let id = (id as? NSNumber)?.intValue else { throw fail("vocab id of '\(token)' is not a number") }
      vocabulary[token] = id
    }
    var merges: [(String, String)] = []
    for (n, entry) in ((model["merges"] as? [Any]) ?? []).enumerated() {
      if let s = entry as? String {  // "a b" (tokenizers < 0.20)
        let parts = s.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw fail("merge \(n + 1) '\(s)' is not two tokens") }
        merges.append((String(parts[0]), String(parts[1])))
      } else if let pair = entry as? [String], pair.count == 2 {  // ["a", "b"]
        merges.append((pair[0], pair[1]))
      } else {
        throw fail("merge \(n + 1) is neither \"a b\" nor [\"a\", \"b\"]")
      }
    }
    // The pre-tokenizer must be GPT-2's ByteLevel one (alone or inside a Sequence).
    var addPrefixSpace = false
    if let pre = root["pre_tokenizer"] as? [String: Any] {
      let stages =
        (pre["type"] as? String) == "Sequence" ? (pre["pretokenizers"] as? [[String: Any]] ?? []) : [pre]
      guard let byteLevel = stages.first(where: { ($0["type"] as? String) == "ByteLevel" }) else {
        throw fail("pre_tokenizer is not ByteLevel; only GPT-2 byte-level BPE is supported")
      }
      addPrefixSpace = byteLevel["add_prefix_space"] as? Bool ?? false
    }
    var special: [String: Int] = [:]
    for token in (root["added_tokens"] as? [[String: Any]]) ?? [] {
      guard let content = token["content"] as? String, let id = (token["id"] as? NSNumber)?.intValue else {
        throw fail("added token without 'content' and 'id'")
      }
      special[content] = id
    }
    if special.isEmpty, let eot = vocabulary["<|endoftext|>"] { special["<|endoftext|>"] = eot }
    return try GPT2Tokenizer(
      vocabulary: vocabulary,
      merges: merges,
      specialTokens: special,
      addPrefixSpace: addPrefixSpace,
      source: url.path
    )
  }
}
