/// The parameters of one transformer block, float32, in PyTorch's `[out, in]` Linear layout.
struct GPTNeoLayerWeights: Sendable {
  let ln1Weight, ln1Bias: WeightTensor
  /// q/k/v projections have no bias in GPT-Neo; out_proj has one.
  let qWeight, kWeight, vWeight: WeightTensor
  let outWeight, outBias: WeightTensor
  let ln2Weight, ln2Bias: WeightTensor
  let fcWeight, fcBias: WeightTensor
  let projWeight, projBias: WeightTensor
}

/// All parameters of a GPT-Neo causal language model.
struct GPTNeoWeights: Sendable {
  let wte: WeightTensor
  let wpe: WeightTensor
  let layers: [GPTNeoLayerWeights]
  let lnfWeight, lnfBias: WeightTensor
  /// `wte` unless the checkpoint unties the head (`tie_word_embeddings: false` with `lm_head.weight`).
  let lmHead: WeightTensor

  /// Reads every tensor the configuration implies. Buffers that checkpoints carry
  /// (`attn.attention.bias`, `masked_bias`) are not parameters and are ignored.
  init(reader: CheckpointReader, configuration c: GPTNeoConfiguration, format: WeightFormat = .float32) throws
  {
    try self.init(source: reader, configuration: c, format: format)
  }

  /// Reads every tensor from `source` (a checkpoint, or a packed-weights file).
  init(source reader: some TensorSource, configuration c: GPTNeoConfiguration, format: WeightFormat) throws {
    let h = c.hiddenSize
    let inner = c.innerSize
    wte = try reader.tensor("wte.weight", shape: [c.vocabSize, h], format: format.embeddingFormat)
    wpe = try reader.tensor("wpe.weight", shape: [c.maxPositionEmbeddings, h])
    layers = try (0 ..< c.numLayers).map { i in
      let p = "h.\(i)."
      return GPTNeoLayerWeights(
        ln1Weight: try reader.tensor(p + "ln_1.weight", shape: [h]),
        ln1Bias: try reader.tensor(p + "ln_1.bias", shape: [h]),
        qWeight: try reader.tensor(p + "attn.attention.q_proj.weight", shape: [h, h], format: format),
        kWeight: try reader.tensor(p + "attn.attention.k_proj.weight", shape: [h, h], format: format),
        vWeight: try reader.tensor(p + "attn.attention.v_proj.weight", shape: [h, h], format: format),
        outWeight: try reader.tensor(p + "attn.attention.out_proj.weight", shape: [h, h], format: format),
        outBias: try reader.tensor(p + "attn.attention.out_proj.bias", shape: [h]),
        ln2Weight: try reader.tensor(p + "ln_2.weight", shape: [h]),
        ln2Bias: try reader.tensor(p + "ln_2.bias", shape: [h]),
        fcWeight: try reader.tensor(p + "mlp.c_fc.weight", shape: [inner, h], format: format),
        fcBias: try reader.tensor(p + "mlp.c_fc.bias", shape: [inner]),
        projWeight: try reader.tensor(p + "mlp.c_proj.weight", shape: [h, inner], format: format),
        projBias: try reader.tensor(p + "mlp.c_proj.bias", shape: [h])
      )
    }
    lnfWeight = try reader.tensor("ln_f.weight", shape: [h])
    lnfBias = try reader.tensor("ln_f.bias", shape: [h])
    if !c.tieWordEmbeddings, reader.contains("lm_head.weight") {
      lmHead = try reader.tensor("lm_head.weight", shape: [c.vocabSize, h], format: format.embeddingFormat)
    } else {
      lmHead = wte
    }
  }

  /// Every tensor once with its checkpoint name (the tied head is `wte`).
  var namedTensors: [(name: String, tensor: WeightTensor)] {
    var tensors = [
      ("wte.weight", wte), ("wpe.weight", wpe), ("ln_f.weight", lnfWeight), ("ln_f.bias", lnfBias),
    ]
    for (i, l) in layers.enumerated() {
      let p = "h.\(i)."
      tensors += [
        (p + "ln_1.weight", l.ln1Weight), (p + "ln_1.bias", l.ln1Bias),
        (p + "attn.attention.q_proj.weight", l.qWeight), (p + "attn.attention.k_proj.weight", l.kWeight),
        (p + "attn.attention.v_proj.weight", l.vWeight), (p + "attn.attention.out_proj.weight", l.outWeight),
        (p + "attn.attention.out_proj.bias", l.outBias), (p + "ln_2.weight", l.ln2Weight),
        (p + "ln_2.bias", l.ln2Bias), (p + "mlp.c_fc.weight", l.fcWeight), (p + "mlp.c_fc.bias", l.fcBias),
        (p + "mlp.c_proj.weight", l.projWeight), (p + "mlp.c_proj.bias", l.projBias),
      ]
    }
    if lmHead !== wte { tensors.append(("lm_head.weight", lmHead)) }
    return tensors
  }

  /// Every tensor once (the tied head is `wte`).
  var allTensors: [WeightTensor] {
    var tensors = [wte, wpe, lnfWeight, lnfBias]
    for l in layers {
      tensors += [
        l.ln1Weight, l.ln1Bias, l.qWeight, l.kWeight, l.vWeight, l.outWeight, l.outBias,
        l.ln2Weight, l.ln2Bias, l.fcWeight, l.fcBias, l.projWeight, l.projBias,
      ]
    }
    if lmHead !== wte { tensors.append(lmHead) }
    return tensors
  }

  /// Bytes of all tensors as held in memory.
  var byteCount: Int { allTensors.reduce(0) { $0 + $1.byteCount } }

  /// Number of parameters (the tied head counted once).
  var parameterCount: Int { allTensors.reduce(0) { $0 + $1.count } }
}
