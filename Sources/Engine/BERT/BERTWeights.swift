/// The parameters of one BERT encoder layer, in PyTorch's `[out, in]` Linear layout.
struct BERTLayerWeights: Sendable {
  let queryWeight, queryBias: WeightTensor
  let keyWeight, keyBias: WeightTensor
  let valueWeight, valueBias: WeightTensor
  let attentionOutWeight, attentionOutBias: WeightTensor
  let attentionNormWeight, attentionNormBias: WeightTensor
  let intermediateWeight, intermediateBias: WeightTensor
  let outputWeight, outputBias: WeightTensor
  let outputNormWeight, outputNormBias: WeightTensor
}

/// All parameters of a BERT encoder (`BertModel`; the pooler, which sentence embeddings do not
/// use, is not loaded).
struct BERTWeights: Sendable {
  let wordEmbeddings: WeightTensor
  let positionEmbeddings: WeightTensor
  let tokenTypeEmbeddings: WeightTensor
  let embeddingNormWeight, embeddingNormBias: WeightTensor
  let layers: [BERTLayerWeights]

  /// Reads every tensor the configuration implies, under the names `BertModel` saves
  /// (`embeddings.*`, `encoder.layer.{i}.*`), or with the `bert.` prefix of a checkpoint saved
  /// from a task model. The weight matrices are packed in `format`.
  init(reader: CheckpointReader, configuration c: BERTConfiguration, format: WeightFormat = .float32) throws {
    let prefix = reader.contains("embeddings.word_embeddings.weight") ? "" : "bert."
    func tensor(_ name: String, _ shape: [Int], _ format: WeightFormat? = nil) throws -> WeightTensor {
      try reader.tensor(prefix + name, shape: shape, format: format)
    }
    let h = c.hiddenSize
    let inner = c.intermediateSize
    // Rows are gathered from the embeddings, never multiplied: plain float32 (the table is 47 MB
    // for MiniLM, small beside what packing would cost each lookup).
    wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [c.vocabSize, h])
    positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, h])
    tokenTypeEmbeddings = try tensor("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h])
    embeddingNormWeight = try tensor("embeddings.LayerNorm.weight", [h])
    embeddingNormBias = try tensor("embeddings.LayerNorm.bias", [h])
    layers = try (0 ..< c.numHiddenLayers).map { i in
      let p = "encoder.layer.\(i)."
      return BERTLayerWeights(
        queryWeight: try tensor(p + "attention.self.query.weight", [h, h], format),
        queryBias: try tensor(p + "attention.self.query.bias", [h]),
        keyWeight: try tensor(p + "attention.self.key.weight", [h, h], format),
        keyBias: try tensor(p + "attention.self.key.bias", [h]),
        valueWeight: try tensor(p + "attention.self.value.weight", [h, h], format),
        valueBias: try tensor(p + "attention.self.value.bias", [h]),
        attentionOutWeight: try tensor(p + "attention.output.dense.weight", [h, h], format),
        attentionOutBias: try tensor(p + "attention.output.dense.bias", [h]),
        attentionNormWeight: try tensor(p + "attention.output.LayerNorm.weight", [h]),
        attentionNormBias: try tensor(p + "attention.output.LayerNorm.bias", [h]),
        intermediateWeight: try tensor(p + "intermediate.dense.weight", [inner, h], format),
        intermediateBias: try tensor(p + "intermediate.dense.bias", [inner]),
        outputWeight: try tensor(p + "output.dense.weight", [h, inner], format),
        outputBias: try tensor(p + "output.dense.bias", [h]),
        outputNormWeight: try tensor(p + "output.LayerNorm.weight", [h]),
        outputNormBias: try tensor(p + "output.LayerNorm.bias", [h])
      )
    }
  }

  var allTensors: [WeightTensor] {
    var tensors = [
      wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings, embeddingNormWeight, embeddingNormBias,
    ]
    for l in layers {
      tensors += [
        l.queryWeight, l.queryBias, l.keyWeight, l.keyBias, l.valueWeight, l.valueBias,
        l.attentionOutWeight, l.attentionOutBias, l.attentionNormWeight, l.attentionNormBias,
        l.intermediateWeight, l.intermediateBias, l.outputWeight, l.outputBias,
        l.outputNormWeight, l.outputNormBias,
      ]
    }
    return tensors
  }

  var parameterCount: Int { allTensors.reduce(0) { $0 + $1.count } }
}
