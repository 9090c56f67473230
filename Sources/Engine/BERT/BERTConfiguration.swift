import Foundation

/// The fields of a Hugging Face `BertConfig` (`config.json`) that the encoder uses.
///
/// Coding keys are `config.json`'s own snake_case names; absent keys take the defaults of
/// `transformers.BertConfig`. Reference:
/// https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/configuration_bert.py
public struct BERTConfiguration: Codable, Sendable, Equatable {
  public var vocabSize: Int
  public var hiddenSize: Int
  public var numHiddenLayers: Int
  public var numAttentionHeads: Int
  public var intermediateSize: Int
  public var hiddenAct: String
  public var maxPositionEmbeddings: Int
  public var typeVocabSize: Int
  public var layerNormEps: Float
  public var positionEmbeddingType: String

  enum CodingKeys: String, CodingKey {
    case vocabSize = "vocab_size"
    case hiddenSize = "hidden_size"
    case numHiddenLayers = "num_hidden_layers"
    case numAttentionHeads = "num_attention_heads"
    case intermediateSize = "intermediate_size"
    case hiddenAct = "hidden_act"
    case maxPositionEmbeddings = "max_position_embeddings"
    case typeVocabSize = "type_vocab_size"
    case layerNormEps = "layer_norm_eps"
    case positionEmbeddingType = "position_embedding_type"
  }

  public init(
    vocabSize: Int = 30522,
    hiddenSize: Int = 768,
    numHiddenLayers: Int = 12,
    numAttentionHeads: Int = 12,
    intermediateSize: Int = 3072,
    hiddenAct: String = "gelu",
    maxPositionEmbeddings: Int = 512,
    typeVocabSize: Int = 2,
    layerNormEps: Float = 1e-12,
    positionEmbeddingType: String = "absolute"
  ) {
    self.vocabSize = vocabSize
    self.hiddenSize = hiddenSize
    self.numHiddenLayers = numHiddenLayers
    self.numAttentionHeads = numAttentionHeads
    self.intermediateSize = intermediateSize
    self.hiddenAct = hiddenAct
    self.maxPositionEmbeddings = maxPositionEmbeddings
    self.typeVocabSize = typeVocabSize
    self.layerNormEps = layerNormEps
    self.positionEmbeddingType = positionEmbeddingType
  }

  public init(from decoder: any Decoder) throws {
    let d = BERTConfiguration()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
    hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
    numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
    numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
    intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
    hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
    maxPositionEmbeddings =
      try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
    typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? d.typeVocabSize
    layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
    positionEmbeddingType =
      try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? d.positionEmbeddingType
  }

  public var headDim: Int { hiddenSize / max(numAttentionHeads, 1) }

  /// Reads and checks `config.json`.
  public static func load(contentsOf url: URL) throws -> BERTConfiguration {
    guard let data = try? Data(contentsOf: url) else { throw EngineError.fileNotFound(path: url.path) }
    let configuration: BERTConfiguration
    do {
      configuration = try JSONDecoder().decode(BERTConfiguration.self, from: data)
    } catch let error as DecodingError {
      throw EngineError.invalidConfiguration(path: url.path, reason: error.readableDescription)
    }
    try configuration.validate(path: url.path)
    return configuration
  }

  /// Throws when the configuration describes a model the encoder cannot run.
  public func validate(path: String = "config.json") throws {
    func fail(_ reason: String) -> EngineError { .invalidConfiguration(path: path, reason: reason) }
    for (name, value) in [
      ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
      ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
      ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize),
    ] where value <= 0 {
      throw fail("\(name) must be positive, got \(value)")
    }
    guard hiddenSize % numAttentionHeads == 0 else {
      throw fail("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
    }
    guard positionEmbeddingType == "absolute" else {
      throw fail("position_embedding_type '\(positionEmbeddingType)' is not supported (absolute is)")
    }
    guard Activation(name: hiddenAct) != nil else {
      throw fail(
        "unknown hidden_act '\(hiddenAct)'; supported: " + Activation.supportedNames.joined(separator: ", ")
      )
    }
  }
}
