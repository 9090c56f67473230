import Foundation

/// The fields of a Hugging Face `GPTNeoConfig` (`config.json`) that the engine uses.
///
/// Coding keys are `config.json`'s own snake_case names; absent keys take the defaults of
/// `transformers.GPTNeoConfig`. Reference:
/// https://github.com/huggingface/transformers/blob/main/src/transformers/models/gpt_neo/configuration_gpt_neo.py
public struct GPTNeoConfiguration: Codable, Sendable, Equatable {
  /// The kind of attention of one layer.
  public enum AttentionKind: String, Codable, Sendable {
    case global
    case local
  }

  public var vocabSize: Int
  public var maxPositionEmbeddings: Int
  public var hiddenSize: Int
  public var numLayers: Int
  public var numHeads: Int
  /// The MLP width; `nil` in `config.json` means 4 × `hiddenSize`.
  public var intermediateSize: Int?
  public var windowSize: Int
  public var activationFunction: String
  public var layerNormEpsilon: Float
  public var bosTokenId: Int?
  public var eosTokenId: Int?
  public var tieWordEmbeddings: Bool
  /// One entry per layer, expanded from `attention_types` (or read from `attention_layers`).
  public var attentionLayers: [AttentionKind]

  enum CodingKeys: String, CodingKey {
    case vocabSize = "vocab_size"
    case maxPositionEmbeddings = "max_position_embeddings"
    case hiddenSize = "hidden_size"
    case numLayers = "num_layers"
    case numHeads = "num_heads"
    case intermediateSize = "intermediate_size"
    case windowSize = "window_size"
    case activationFunction = "activation_function"
    case layerNormEpsilon = "layer_norm_epsilon"
    case bosTokenId = "bos_token_id"
    case eosTokenId = "eos_token_id"
    case tieWordEmbeddings = "tie_word_embeddings"
    case attentionTypes = "attention_types"
    case attentionLayers = "attention_layers"
    case modelType = "model_type"
  }

  public init(
    vocabSize: Int = 50257,
    maxPositionEmbeddings: Int = 2048,
    hiddenSize: Int = 2048,
    numLayers: Int = 24,
    numHeads: Int = 16,
    intermediateSize: Int? = nil,
    windowSize: Int = 256,
    activationFunction: String = "gelu_new",
    layerNormEpsilon: Float = 1e-5,
    bosTokenId: Int? = 50256,
    eosTokenId: Int? = 50256,
    tieWordEmbeddings: Bool = true,
    attentionLayers: [AttentionKind]? = nil
  ) {
    self.vocabSize = vocabSize
    self.maxPositionEmbeddings = maxPositionEmbeddings
    self.hiddenSize = hiddenSize
    self.numLayers = numLayers
    self.numHeads = numHeads
    self.intermediateSize = intermediateSize
    self.windowSize = windowSize
    self.activationFunction = activationFunction
    self.layerNormEpsilon = layerNormEpsilon
    self.bosTokenId = bosTokenId
    self.eosTokenId = eosTokenId
    self.tieWordEmbeddings = tieWordEmbeddings
    self.attentionLayers =
      attentionLayers ?? (0 ..< numLayers).map { $0 % 2 == 0 ? .global : .local }
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let defaults = GPTNeoConfiguration()
    if let type = try c.decodeIfPresent(String.self, forKey: .modelType), type != "gpt_neo" {
      throw DecodingError.dataCorruptedError(
        forKey: .modelType,
        in: c,
        debugDescription: "model_type is '\(type)', expected 'gpt_neo'"
      )
    }
    vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? defaults.vocabSize
    maxPositionEmbeddings =
      try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? defaults.maxPositionEmbeddings
    hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? defaults.hiddenSize
    numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? defaults.numLayers
    numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? defaults.numHeads
    intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize)
    windowSize = try c.decodeIfPresent(Int.self, forKey: .windowSize) ?? defaults.windowSize
    activationFunction =
      try c.decodeIfPresent(String.self, forKey: .activationFunction) ?? defaults.activationFunction
    layerNormEpsilon =
      try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? defaults.layerNormEpsilon
    bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
    eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId)
    tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true

    // `attention_types` is the source of truth in transformers; `attention_layers` is its expansion,
    // which config.json files also carry. Either is accepted; both must agree.
    var expanded: [AttentionKind]?
    if let types = try c.decodeIfPresent([AttentionTypeGroup].self, forKey: .attentionTypes) {
      expanded = types.flatMap { group in
        (0 ..< max(group.repeats, 0)).flatMap { _ in group.pattern }
      }
    }
    let listed = try c.decodeIfPresent([AttentionKind].self, forKey: .attentionLayers)
    if let expanded, let listed, expanded != listed {
      throw DecodingError.dataCorruptedError(
        forKey: .attentionLayers,
        in: c,
        debugDescription: "attention_layers disagrees with the expansion of attention_types"
      )
    }
    attentionLayers =
      expanded ?? listed ?? (0 ..< numLayers).map { $0 % 2 == 0 ? .global : .local }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode("gpt_neo", forKey: .modelType)
    try c.encode(vocabSize, forKey: .vocabSize)
    try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
    try c.encode(hiddenSize, forKey: .hiddenSize)
    try c.encode(numLayers, forKey: .numLayers)
    try c.encode(numHeads, forKey: .numHeads)
    try c.encode(intermediateSize, forKey: .intermediateSize)
    try c.encode(windowSize, forKey: .windowSize)
    try c.encode(activationFunction, forKey: .activationFunction)
    try c.encode(layerNormEpsilon, forKey: .layerNormEpsilon)
    try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
    try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
    try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
    try c.encode(attentionLayers, forKey: .attentionLayers)
  }

  /// The MLP width actually used.
  public var innerSize: Int { intermediateSize ?? 4 * hiddenSize }
  /// Width of one attention head.
  public var headDim: Int { hiddenSize / max(numHeads, 1) }

  /// Reads and validates `config.json`.
  public static func load(contentsOf url: URL) throws -> GPTNeoConfiguration {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw EngineError.fileNotFound(path: url.path)
    }
    let config: GPTNeoConfiguration
    do {
      config = try JSONDecoder().decode(GPTNeoConfiguration.self, from: Data(contentsOf: url))
    } catch let error as DecodingError {
      throw EngineError.invalidConfiguration(path: url.path, reason: error.readableDescription)
    }
    try config.validate(path: url.path)
    return config
  }

  /// Checks the invariants the forward pass relies on.
  public func validate(path: String = "config.json") throws {
    func fail(_ reason: String) -> EngineError { .invalidConfiguration(path: path, reason: reason) }
    guard vocabSize > 0 else { throw fail("vocab_size must be positive, got \(vocabSize)") }
    guard hiddenSize > 0 else { throw fail("hidden_size must be positive, got \(hiddenSize)") }
    guard numLayers > 0 else { throw fail("num_layers must be positive, got \(numLayers)") }
    guard numHeads > 0, hiddenSize % numHeads == 0 else {
      throw fail("hidden_size (\(hiddenSize)) must be a multiple of num_heads (\(numHeads))")
    }
    guard maxPositionEmbeddings > 0 else {
      throw fail("max_position_embeddings must be positive, got \(maxPositionEmbeddings)")
    }
    guard innerSize > 0 else { throw fail("intermediate_size must be positive, got \(innerSize)") }
    guard attentionLayers.count == numLayers else {
      throw fail(
        "attention_types describe \(attentionLayers.count) layers but num_layers is \(numLayers)"
      )
    }
    if attentionLayers.contains(.local), windowSize <= 0 {
      throw fail("window_size must be positive for local attention, got \(windowSize)")
    }
    guard Activation(name: activationFunction) != nil else {
      throw fail(
        "unknown activation_function '\(activationFunction)'; supported: "
          + Activation.supportedNames.joined(separator: ", ")
      )
    }
  }
}

/// One `[["global", "local"], 12]` entry of `attention_types`.
private struct AttentionTypeGroup: Decodable {
  var pattern: [GPTNeoConfiguration.AttentionKind]
  var repeats: Int

  init(from decoder: any Decoder) throws {
    var c = try decoder.unkeyedContainer()
    pattern = try c.decode([GPTNeoConfiguration.AttentionKind].self)
    repeats = try c.decode(Int.self)
  }
}

extension DecodingError {
  /// "key.path: what is wrong" instead of Foundation's multi-line dump.
  var readableDescription: String {
    func path(_ context: DecodingError.Context) -> String {
      let p = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
      return p.isEmpty ? "" : p.joined(separator: ".") + ": "
    }
    switch self {
    case .typeMismatch(_, let context), .valueNotFound(_, let context),
      .dataCorrupted(let context):
      return path(context) + context.debugDescription
    case .keyNotFound(let key, let context):
      return path(context) + "missing key '\(key.stringValue)'"
    @unknown default:
      return String(describing: self)
    }
  }
}
