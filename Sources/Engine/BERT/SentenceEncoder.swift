import CEngineKernels
import Foundation

/// A sentence-transformers model: WordPiece tokenizer, BERT encoder, pooling and normalisation,
/// as the checkpoint's `modules.json` lists them. Texts become unit vectors whose dot product is
/// their cosine similarity.
///
/// ```swift
/// let encoder = try SentenceEncoder.load(directory: URL(fileURLWithPath: "models/all-MiniLM-L6-v2"))
/// let vectors = try encoder.embed(["why are leaves green", "chlorophyll absorbs red and blue light"])
/// let cosine = zip(vectors[0], vectors[1]).reduce(0) { $0 + $1.0 * $1.1 }
/// ```
///
/// Loading reads `config.json`, `*.safetensors`, `tokenizer.json` (or `vocab.txt`),
/// `modules.json`, the pooling module's `config.json` and `sentence_bert_config.json`
/// (`max_seq_length`: longer texts are truncated, as sentence-transformers does).
public final class SentenceEncoder: Sendable {
  /// How token vectors become one sentence vector (sentence-transformers' `Pooling` modes).
  public enum Pooling: String, Sendable {
    case mean, cls, max
  }

  public let model: BERTModel
  public let tokenizer: WordPieceTokenizer
  public let pooling: Pooling
  /// Whether a `Normalize` module follows pooling (unit-length output).
  public let normalizes: Bool
  /// Tokens per text, `[CLS]` and `[SEP]` included.
  public let maxSequenceLength: Int
  /// A fingerprint of the files that determine the embeddings (weights, configuration,
  /// tokenizer, pooling): caches of embeddings are keyed by it.
  public let fingerprint: String

  public var dimension: Int { model.configuration.hiddenSize }

  init(
    model: BERTModel,
    tokenizer: WordPieceTokenizer,
    pooling: Pooling,
    normalizes: Bool,
    maxSequenceLength: Int,
    fingerprint: String
  ) {
    self.model = model
    self.tokenizer = tokenizer
    self.pooling = pooling
    self.normalizes = normalizes
    self.maxSequenceLength = maxSequenceLength
    self.fingerprint = fingerprint
  }

  /// Loads a sentence-transformers model folder (see the type's documentation).
  /// - Parameter threads: compute threads per batch; `nil` means every active core.
  public static func load(directory: URL, threads: Int? = nil) throws -> SentenceEncoder {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else { throw EngineError.fileNotFound(path: directory.path) }
    let model = try BERTModel.load(directory: directory, threads: threads)
    let tokenizer = try WordPieceTokenizer.load(directory: directory)
    guard tokenizer.vocabularySize <= model.configuration.vocabSize else {
      throw EngineError.invalidTokenizer(
        path: directory.path,
        reason:
          "\(tokenizer.vocabularySize) tokens, but the model's vocab_size is \(model.configuration.vocabSize)"
      )
    }
    func json(_ name: String) throws -> [String: Any]? {
      let url = directory.appendingPathComponent(name)
      guard let data = try? Data(contentsOf: url) else { return nil }
      guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw EngineError.invalidConfiguration(path: url.path, reason: "not a JSON object")
      }
      return object
    }
    // modules.json: [{path, type}], e.g. Transformer, Pooling (1_Pooling), Normalize (2_Normalize).
    var poolingPath = "1_Pooling"
    var normalizes = true
    let modulesURL = directory.appendingPathComponent("modules.json")
    if let data = try? Data(contentsOf: modulesURL) {
      guard let modules = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
        throw EngineError.invalidConfiguration(path: modulesURL.path, reason: "not a JSON list of modules")
      }
      let types = modules.compactMap { $0["type"] as? String }
      if let p = modules.first(where: { ($0["type"] as? String)?.hasSuffix(".Pooling") == true })?["path"]
        as? String
      {
        poolingPath = p
      }
      normalizes = types.contains { $0.hasSuffix(".Normalize") }
      for type in types
      where !type.hasSuffix(".Transformer") && !type.hasSuffix(".Pooling") && !type.hasSuffix(".Normalize") {
        throw EngineError.invalidConfiguration(
          path: modulesURL.path,
          reason: "module \(type) is not supported (Transformer, Pooling and Normalize are)"
        )
      }
    }
    var pooling = Pooling.mean
    let poolingFile = poolingPath + "/config.json"
    if let config = try json(poolingFile) {
      let modes: [(String, Pooling)] = [
        ("pooling_mode_mean_tokens", .mean), ("pooling_mode_cls_token", .cls),
        ("pooling_mode_max_tokens", .max),
      ]
      let chosen = modes.filter { config[$0.0] as? Bool == true }
      guard chosen.count == 1 else {
        throw EngineError.invalidConfiguration(
          path: directory.appendingPathComponent(poolingFile).path,
          reason: "exactly one of mean, cls or max pooling must be on"
        )
      }
      pooling = chosen[0].1
    }
    var maxLength = min(512, model.configuration.maxPositionEmbeddings)
    if let config = try json("sentence_bert_config.json"), let m = config["max_seq_length"] as? Int, m > 2 {
      maxLength = min(m, model.configuration.maxPositionEmbeddings)
    }
    let fingerprint = try Self.fingerprint(
      directory: directory,
      files: [
        "config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json", "modules.json", poolingFile,
        "sentence_bert_config.json",
      ]
    )
    return SentenceEncoder(
      model: model,
      tokenizer: tokenizer,
      pooling: pooling,
      normalizes: normalizes,
      maxSequenceLength: maxLength,
      fingerprint: fingerprint
    )
  }

  /// The token ids a text is encoded as (`[CLS] … [SEP]`, truncated to ``maxSequenceLength``).
  public func tokenize(_ text: String) -> [Int] {
    tokenizer.encode(text, maxLength: maxSequenceLength)
  }

  /// Batches of fewer tokens than this run on the calling thread alone (see
  /// ``BERTModel/forward(batch:parallel:)``): a question of a few dozen tokens gains little from a
  /// second thread and, in a busy server, loses much to the barriers.
  public static let parallelThreshold = 128

  /// One vector of ``dimension`` floats per text, in order (unit length when the model
  /// normalises). Texts are run in batches of about `batchTokens` tokens: each batch reads every
  /// weight once for all its rows. Batches of at least ``parallelThreshold`` tokens use the
  /// model's threads.
  public func embed(_ texts: [String], batchTokens: Int = 2048) throws -> [[Float]] {
    let encoded = texts.map(tokenize)
    var result: [[Float]] = []
    result.reserveCapacity(texts.count)
    var start = 0
    while start < encoded.count {
      var end = start
      var tokens = 0
      while end < encoded.count, end == start || tokens + encoded[end].count <= batchTokens {
        tokens += encoded[end].count
        end += 1
      }
      let batch = Array(encoded[start ..< end])
      let hidden = try model.forward(batch: batch, parallel: tokens >= Self.parallelThreshold)
      var row = 0
      for ids in batch {
        result.append(pool(hidden, rows: row ..< (row + ids.count)))
        row += ids.count
      }
      start = end
    }
    return result
  }

  private func pool(_ hidden: [Float], rows: Range<Int>) -> [Float] {
    let h = dimension
    var v = [Float](repeating: 0, count: h)
    switch pooling {
    case .cls:
      v = Array(hidden[rows.lowerBound * h ..< (rows.lowerBound + 1) * h])
    case .max:
      v = [Float](repeating: -.infinity, count: h)
      for r in rows { for j in 0 ..< h { v[j] = max(v[j], hidden[r * h + j]) } }
    case .mean:
      for r in rows { for j in 0 ..< h { v[j] += hidden[r * h + j] } }
      let n = Float(rows.count)
      for j in 0 ..< h { v[j] /= n }
    }
    if normalizes {
      // torch.nn.functional.normalize: x / max(‖x‖, 1e-12).
      let norm = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
      for j in 0 ..< h { v[j] /= norm }
    }
    return v
  }

  /// Hex fingerprint of the weight files and the named files that exist in `directory`.
  static func fingerprint(directory: URL, files: [String]) throws -> String {
    let fm = FileManager.default
    let weights = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? [])
      .filter { $0.hasSuffix(".safetensors") }.sorted()
    var h: UInt64 = 0
    for name in weights + files {
      let path = directory.appendingPathComponent(name).path
      guard fm.fileExists(atPath: path) else { continue }
      let file = try MappedFile(path: path)
      h = gn_fingerprint64(file.base, file.size, h ^ gn_fingerprint64(name, name.utf8.count, 0))
    }
    return String(h, radix: 16)
  }
}
