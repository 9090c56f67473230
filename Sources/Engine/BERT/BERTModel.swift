import CEngineKernels
import Foundation

/// A BERT encoder loaded from a Hugging Face checkpoint directory: the transformer of
/// sentence-transformers models such as all-MiniLM-L6-v2.
///
/// A port of `transformers`' `BertModel`
/// (https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py):
/// word + absolute position + token-type embeddings and a LayerNorm, then post-LayerNorm blocks
/// (`x = LN(x + attn(x))`, `x = LN(x + ffn(x))`) with bidirectional attention scaled by
/// 1/√head_dim and an erf GELU. Sequences are run unpadded, each attending to its own tokens
/// only, which is what an attention mask over padding computes.
///
/// It shares the engine's packed matrix kernels, attention kernel and thread pool with
/// ``GPTNeoModel``.
public final class BERTModel: Sendable {
  public let configuration: BERTConfiguration
  let weights: BERTWeights
  let activation: Activation
  let pool: WorkerPool
  let workspaces = WorkspaceShelf()

  public var threads: Int { pool.threads }
  public var parameterCount: Int { weights.parameterCount }

  init(configuration: BERTConfiguration, weights: BERTWeights, threads: Int) throws {
    try configuration.validate()
    self.configuration = configuration
    self.weights = weights
    guard let activation = Activation(name: configuration.hiddenAct) else {
      throw EngineError.invalidConfiguration(path: "config.json", reason: "unknown hidden_act")
    }
    self.activation = activation
    pool = WorkerPool(threads: threads)
  }

  /// Loads `config.json` and the safetensors weights of `directory`.
  /// - Parameters:
  ///   - threads: compute threads per forward pass; `nil` means every active core.
  public static func load(
    directory: URL,
    threads: Int? = nil,
    weightFormat: WeightFormat = .float32
  ) throws -> BERTModel {
    let configuration = try BERTConfiguration.load(
      contentsOf: directory.appendingPathComponent("config.json")
    )
    let reader = try CheckpointReader(directory: directory)
    let weights = try BERTWeights(reader: reader, configuration: configuration, format: weightFormat)
    return try BERTModel(
      configuration: configuration,
      weights: weights,
      threads: threads ?? ProcessInfo.processInfo.activeProcessorCount
    )
  }

  /// The last layer's hidden states of every token of every sequence, sequence after sequence,
  /// `[Σ tokens, hidden_size]` row-major. Token types are all 0 (single-segment input).
  ///
  /// - Parameter parallel: false runs the pass on the calling thread alone. The pool's loops end
  ///   in a barrier, and a barrier among more spinning threads than free cores waits for the
  ///   scheduler: a server embedding a short question while its generations keep both cores
  ///   busy took ~1 s a question that way, and takes a few milliseconds serially.
  public func forward(batch: [[Int]], parallel: Bool = true) throws -> [Float] {
    let c = configuration
    guard !batch.isEmpty else { throw EngineError.emptyInput("forward needs at least one sequence") }
    for tokens in batch {
      guard !tokens.isEmpty else { throw EngineError.emptyInput("forward needs at least one token") }
      guard tokens.count <= c.maxPositionEmbeddings else {
        throw EngineError.contextOverflow(tokens: tokens.count, limit: c.maxPositionEmbeddings)
      }
      for id in tokens where id < 0 || id >= c.vocabSize {
        throw EngineError.tokenOutOfRange(id: id, vocabularySize: c.vocabSize)
      }
    }
    let h = c.hiddenSize
    let hd = c.headDim
    let inner = c.intermediateSize
    let counts = batch.map(\.count)
    var starts = [0]
    for n in counts { starts.append(starts.last! + n) }
    let t = starts.last!
    // One (sequence, head) attention job each, with a scratch row as long as its sequence.
    var jobs: [(sequence: Int, head: Int, scratch: Int)] = []
    var scratchSize = 0
    for i in batch.indices {
      for head in 0 ..< c.numAttentionHeads {
        jobs.append((i, head, scratchSize))
        scratchSize += counts[i]
      }
    }
    let attentionWork = counts.reduce(0) { $0 + $1 * $1 } * h
    // GPT-Neo leaves scores unscaled; BERT divides them by √head_dim, done here on the queries.
    let scale = 1 / Float(hd).squareRoot()
    let limit: Int? = parallel ? nil : 1

    var x = [Float](repeating: 0, count: t * h)
    try workspaces.withWorkspace(floats: 5 * t * h + t * inner + scratchSize) { memory in
      let q = memory
      let k = q + t * h
      let v = k + t * h
      let attn = v + t * h
      let tmp = attn + t * h
      let mid = tmp + t * h
      let scratch = mid + t * inner
      try x.withUnsafeMutableBufferPointer { xb in
        let x = xb.baseAddress!
        let w = weights
        for (i, tokens) in batch.enumerated() {
          for (row, id) in tokens.enumerated() {
            let dst = x + (starts[i] + row) * h
            w.wordEmbeddings.copyRow(id, into: dst)
            gn_add(dst, w.positionEmbeddings.pointer + row * h, h)
            gn_add(dst, w.tokenTypeEmbeddings.pointer, h)
          }
        }
        gn_layer_norm(x, t, h, w.embeddingNormWeight.pointer, w.embeddingNormBias.pointer, c.layerNormEps, x)
        for l in w.layers {
          if Task.isCancelled { throw CancellationError() }
          pool.linear(
            x,
            rows: t,
            parts: [
              (l.queryWeight, l.queryBias, q), (l.keyWeight, l.keyBias, k), (l.valueWeight, l.valueBias, v),
            ],
            limit: limit
          )
          for i in 0 ..< t * h { q[i] *= scale }
          pool.run(jobs.count, limit: attentionWork >= 4096 ? limit : 1) { index in
            let (s, head, scratchStart) = jobs[index]
            let first = starts[s] * h + head * hd
            var view = gn_kv_view(
              k: UnsafeRawPointer(k + first),
              v: UnsafeRawPointer(v + first),
              k_scale: nil,
              v_scale: nil,
              stride: h,
              scale_stride: 0,
              ring: 0,
              format: Int32(GN_KV_F32)
            )
            // Every query sees every key of its sequence: as the last position of a causal pass.
            for row in 0 ..< counts[s] {
              gn_attention_head(
                q + first + row * h,
                h,
                1,
                counts[s] - 1,
                &view,
                hd,
                0,
                attn + first + row * h,
                h,
                scratch + scratchStart
              )
            }
          }
          pool.linear(
            attn,
            rows: t,
            weight: l.attentionOutWeight,
            bias: l.attentionOutBias,
            into: tmp,
            limit: limit
          )
          gn_add(tmp, x, t * h)
          gn_layer_norm(
            tmp,
            t,
            h,
            l.attentionNormWeight.pointer,
            l.attentionNormBias.pointer,
            c.layerNormEps,
            x
          )
          pool.linear(
            x,
            rows: t,
            weight: l.intermediateWeight,
            bias: l.intermediateBias,
            into: mid,
            activation: activation,
            limit: limit
          )
          pool.linear(mid, rows: t, weight: l.outputWeight, bias: l.outputBias, into: tmp, limit: limit)
          gn_add(tmp, x, t * h)
          gn_layer_norm(tmp, t, h, l.outputNormWeight.pointer, l.outputNormBias.pointer, c.layerNormEps, x)
        }
      }
    }
    return x
  }
}
