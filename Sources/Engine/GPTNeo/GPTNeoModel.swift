import CEngineKernels
import Foundation

/// A GPT-Neo causal language model loaded from a Hugging Face checkpoint directory.
///
/// A port of `transformers`' `GPTNeoForCausalLM`
/// (https://github.com/huggingface/transformers/blob/main/src/transformers/models/gpt_neo/modeling_gpt_neo.py):
/// pre-LayerNorm blocks, alternating global and local (sliding-window) attention with unscaled
/// scores, `gelu_new` MLP, final LayerNorm and an LM head tied to the token embeddings.
///
/// ```swift
/// let model = try GPTNeoModel.load(directory: URL(fileURLWithPath: "models/gpt-neo-125M"))
/// let cache = model.makeCache()
/// let hidden = try model.forward(tokens: [464, 2068], cache: cache)
/// let logits = model.logits(hidden: hidden, row: 1)
/// ```
///
/// The model is immutable and `Sendable`: many sequences may run on it at once, each with its own
/// ``KVCache``.
public final class GPTNeoModel: Sendable {
  public let configuration: GPTNeoConfiguration
  let weights: GPTNeoWeights
  let activation: Activation
  /// Threads a forward pass uses.
  public var threads: Int { pool.threads }
  let pool: WorkerPool
  /// How the caches of ``makeCache(capacity:)`` hold keys and values.
  public let kvCacheFormat: KVCacheFormat
  /// Activation memory reused across forward passes.
  let workspaces = WorkspaceShelf()

  /// Options for loading.
  public struct LoadOptions: Sendable {
    /// Compute threads per forward pass; `nil` means every active core.
    public var threads: Int?
    /// How the large matrices are held in memory.
    public var weightFormat: WeightFormat
    /// How the caches that ``GPTNeoModel/makeCache(capacity:)`` makes hold keys and values.
    public var kvCacheFormat: KVCacheFormat
    /// A folder for packed-weights files: the weights as the engine holds them, mapped on the next
    /// start instead of repacked (nil: none). See ``packedWeights``.
    public var packedWeightsDirectory: URL?
    public init(
      threads: Int? = nil,
      weightFormat: WeightFormat = .float32,
      kvCacheFormat: KVCacheFormat = .float32,
      packedWeightsDirectory: URL? = nil
    ) {
      self.threads = threads
      self.weightFormat = weightFormat
      self.kvCacheFormat = kvCacheFormat
      self.packedWeightsDirectory = packedWeightsDirectory
    }
  }

  /// What loading did with the packed-weights file.
  public enum PackedWeightsUse: Sendable, Equatable {
    /// No folder was given.
    case off
    /// The weights were mapped from this file.
    case mapped(path: String)
    /// The checkpoint was packed and the file written for the next start.
    case written(path: String)
    /// The checkpoint was packed, but the file could not be written (the reason).
    case notWritten(path: String, reason: String)
  }

  /// What loading did with the packed-weights file.
  public var packedWeights: PackedWeightsUse { packedWeightsUse }

  let packedWeightsUse: PackedWeightsUse

  init(
    configuration: GPTNeoConfiguration,
    weights: GPTNeoWeights,
    threads: Int,
    kvCacheFormat: KVCacheFormat = .float32,
    packedWeights: PackedWeightsUse = .off
  ) throws {
    try configuration.validate()
    packedWeightsUse = packedWeights
    self.configuration = configuration
    self.weights = weights
    self.kvCacheFormat = kvCacheFormat
    guard let activation = Activation(name: configuration.activationFunction) else {
      throw EngineError.invalidConfiguration(
        path: "config.json",
        reason: "unknown activation_function '\(configuration.activationFunction)'"
      )
    }
    self.activation = activation
    pool = WorkerPool(threads: threads)
  }

  /// Loads `config.json` and the safetensors weights of `directory` (memory-mapped while loading;
  /// the weight matrices packed for the kernels in `options`' format, the other tensors copied as
  /// float32, and the files unmapped afterwards).
  public static func load(directory: URL, options: LoadOptions = LoadOptions()) throws -> GPTNeoModel {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else { throw EngineError.fileNotFound(path: directory.path) }
    let configuration = try GPTNeoConfiguration.load(
      contentsOf: directory.appendingPathComponent("config.json")
    )
    let format = options.weightFormat
    var weights: GPTNeoWeights?
    var use = PackedWeightsUse.off
    var packed: (url: URL, fingerprint: String)?
    var returnFreedMemory = false
    if let folder = options.packedWeightsDirectory {
      let fingerprint = try PackedWeights.fingerprint(directory: directory, format: format)
      let url = PackedWeights.url(
        cacheDirectory: folder,
        modelDirectory: directory,
        format: format,
        fingerprint: fingerprint
      )
      packed = (url, fingerprint)
      // A file that is stale, damaged or of another shape is not used; the checkpoint is.
      if let source = try? PackedWeights.open(url: url, fingerprint: fingerprint, format: format),
        let mapped = try? GPTNeoWeights(source: source, configuration: configuration, format: format)
      {
        weights = mapped
        use = .mapped(path: url.path)
      }
    }
    if weights == nil {
      let loaded = try GPTNeoWeights(
        reader: try CheckpointReader(directory: directory),
        configuration: configuration,
        format: format
      )
      weights = loaded
      if let packed {
        do {
          try PackedWeights.write(
            loaded,
            format: format,
            fingerprint: packed.fingerprint,
            to: packed.url,
            modelDirectory: directory
          )
          use = .written(path: packed.url.path)
          // Serve from the file already, so that this process too shares its pages rather than
          // keeping a private packed copy.
          if let source = try? PackedWeights.open(
            url: packed.url,
            fingerprint: packed.fingerprint,
            format: format
          ),
            let mapped = try? GPTNeoWeights(source: source, configuration: configuration, format: format)
          {
            weights = mapped
            withExtendedLifetime(loaded) {}
            returnFreedMemory = true
          }
        } catch {
          use = .notWritten(path: packed.url.path, reason: "\(error)")
        }
      }
    }
    if returnFreedMemory {
      // The packed copy just freed came partly from malloc's heap, which keeps freed memory
      // resident; give it back, or the first start would hold the weights twice.
      gn_release_free_memory()
    }
    return try GPTNeoModel(
      configuration: configuration,
      weights: weights!,
      threads: options.threads ?? ProcessInfo.processInfo.activeProcessorCount,
      kvCacheFormat: options.kvCacheFormat,
      packedWeights: use
    )
  }

  /// Number of parameters, the tied LM head counted once.
  public var parameterCount: Int { weights.parameterCount }

  /// How the large matrices are held.
  public var weightFormat: WeightFormat { weights.layers[0].fcWeight.format }

  /// Bytes of weights read per forward pass (every tensor once; the tied head counted once).
  public var weightBytes: Int { weights.byteCount }

  /// A cache for one sequence, sized for `capacity` positions at first (it grows up to the
  /// model's context length as needed).
  public func makeCache(capacity: Int? = nil) -> KVCache {
    KVCache(
      configuration: configuration,
      capacity: capacity ?? min(configuration.maxPositionEmbeddings, 256),
      format: kvCacheFormat
    )
  }
}

// MARK: - Forward pass

extension GPTNeoModel {
  /// Runs `tokens` (the next positions of the sequence held by `cache`) through the transformer,
  /// appends their keys and values to `cache`, and returns the final-LayerNorm hidden states,
  /// `[tokens.count, hidden_size]` row-major. Pass rows to ``logits(hidden:row:)`` for scores.
  ///
  /// - Parameter isCancelled: polled between layers; when it returns true the pass stops, the
  ///   cache is left as before the call, and `CancellationError` is thrown.
  public func forward(
    tokens: some Collection<Int>,
    cache: KVCache,
    isCancelled: (() -> Bool)? = nil
  ) throws -> [Float] {
    try forward(batch: [(Array(tokens), cache)], isCancelled: isCancelled)
  }

  /// Runs several sequences in one pass: each entry's tokens continue the sequence in its own
  /// cache (prompts and single decode steps mix freely). Every weight is read once for the whole
  /// batch, which is what makes serving many sessions at once cheap; each row's result is
  /// bit-for-bit what a pass of its sequence alone gives.
  ///
  /// - Returns: the final-LayerNorm hidden states of all rows, sequence after sequence,
  ///   `[Σ tokens, hidden_size]`.
  public func forward(
    batch: [(tokens: [Int], cache: KVCache)],
    isCancelled: (() -> Bool)? = nil
  ) throws -> [Float] {
    try forward(batch: batch, isCancelled: isCancelled, observe: nil)
  }

  /// The residual stream of every row after the embeddings and after each block (before the
  /// final LayerNorm), then the final hidden states: `layers + 2` arrays of `[tokens, hidden]`,
  /// for checking the blocks one at a time against a reference (`tools/reference/layer_reference.py`).
  public func residualStream(tokens: [Int]) throws -> [[Float]] {
    var stream: [[Float]] = []
    let h = configuration.hiddenSize
    let final = try forward(batch: [(tokens, makeCache(capacity: tokens.count))], isCancelled: nil) {
      stream.append(Array(UnsafeBufferPointer(start: $0, count: tokens.count * h)))
    }
    return stream + [final]
  }

  /// The pass; `observe`, when given, sees the residual stream after the embeddings and after
  /// each block.
  func forward(
    batch: [(tokens: [Int], cache: KVCache)],
    isCancelled: (() -> Bool)?,
    observe: ((UnsafePointer<Float>) -> Void)?
  ) throws -> [Float] {
    let c = configuration
    guard !batch.isEmpty else { throw EngineError.emptyInput("forward needs at least one sequence") }
    for (i, entry) in batch.enumerated() {
      let t = entry.tokens.count
      guard t > 0 else { throw EngineError.emptyInput("forward needs at least one token") }
      guard entry.cache.count + t <= c.maxPositionEmbeddings else {
        throw EngineError.contextOverflow(tokens: entry.cache.count + t, limit: c.maxPositionEmbeddings)
      }
      for id in entry.tokens where id < 0 || id >= c.vocabSize {
        throw EngineError.tokenOutOfRange(id: id, vocabularySize: c.vocabSize)
      }
      precondition(!batch[..<i].contains { $0.cache === entry.cache }, "a cache appears twice in one batch")
    }
    let h = c.hiddenSize
    let hd = c.headDim
    let inner = c.innerSize
    let pasts = batch.map(\.cache.count)
    let counts = batch.map(\.tokens.count)
    var starts = [0]
    for n in counts { starts.append(starts.last! + n) }
    let t = starts.last!
    for entry in batch { entry.cache.reserve(entry.tokens.count) }

    // One (sequence, head) attention job per entry: its scratch row starts at scratchStart.
    var jobs: [(sequence: Int, head: Int, scratch: Int)] = []
    var scratchSize = 0
    for i in batch.indices {
      for head in 0 ..< c.numHeads {
        jobs.append((i, head, scratchSize))
        scratchSize += pasts[i] + counts[i]
      }
    }
    let attentionWork = zip(pasts, counts).reduce(0) { $0 + $1.1 * ($1.0 + $1.1) } * hd * c.numHeads

    var x = [Float](repeating: 0, count: t * h)
    // The attention's buffers (q, new keys and values, output) and the MLP's hidden layer are
    // never live at once, so they share one region; each projection's output goes to a buffer
    // its input no longer needs (q after the attention, `normed` after c_fc).
    let shared = max(4 * t * h, t * inner)
    try workspaces.withWorkspace(floats: t * h + shared + scratchSize) { memory in
      let normed = memory
      let q = normed + t * h
      let kNew = q + t * h
      let vNew = kNew + t * h
      let attn = vNew + t * h
      let mlp = q
      let scratch = q + shared
      try x.withUnsafeMutableBufferPointer { xb in
        let x = xb.baseAddress!
        // Token + position embeddings.
        for (i, entry) in batch.enumerated() {
          for (row, id) in entry.tokens.enumerated() {
            let dst = x + (starts[i] + row) * h
            weights.wte.copyRow(id, into: dst)
            gn_add(dst, weights.wpe.pointer + (pasts[i] + row) * h, h)
          }
        }

        observe?(x)
        for (l, w) in weights.layers.enumerated() {
          if let isCancelled, isCancelled() { throw CancellationError() }
          // Attention: x += out_proj(attn(ln_1(x))).
          gn_layer_norm(x, t, h, w.ln1Weight.pointer, w.ln1Bias.pointer, c.layerNormEpsilon, normed)
          pool.linear(
            normed,
            rows: t,
            parts: [(w.qWeight, nil, q), (w.kWeight, nil, kNew), (w.vWeight, nil, vNew)]
          )
          for (i, entry) in batch.enumerated() {
            entry.cache.store(
              layer: l,
              keys: kNew + starts[i] * h,
              values: vNew + starts[i] * h,
              rows: counts[i]
            )
          }
          let window = c.attentionLayers[l] == .local ? c.windowSize : 0
          // Views made here, so that the threads touch no reference-counted cache object.
          let views = jobs.map { batch[$0.sequence].cache.view(layer: l, head: $0.head, headDim: hd) }
          pool.run(jobs.count, limit: attentionWork >= 4096 ? nil : 1) { index in
            let (i, head, scratchStart) = jobs[index]
            var view = views[index]
            gn_attention_head(
              q + starts[i] * h + head * hd,
              h,
              counts[i],
              pasts[i],
              &view,
              hd,
              window,
              attn + starts[i] * h + head * hd,
              h,
              scratch + scratchStart
            )
          }
          pool.linear(attn, rows: t, weight: w.outWeight, bias: w.outBias, into: q)
          gn_add(x, q, t * h)
          // MLP: x += c_proj(act(c_fc(ln_2(x)))).
          gn_layer_norm(x, t, h, w.ln2Weight.pointer, w.ln2Bias.pointer, c.layerNormEpsilon, normed)
          pool.linear(normed, rows: t, weight: w.fcWeight, bias: w.fcBias, into: mlp, activation: activation)
          pool.linear(mlp, rows: t, weight: w.projWeight, bias: w.projBias, into: normed)
          gn_add(x, normed, t * h)
          observe?(x)
        }
        gn_layer_norm(x, t, h, weights.lnfWeight.pointer, weights.lnfBias.pointer, c.layerNormEpsilon, x)
      }
    }
    for (i, entry) in batch.enumerated() { entry.cache.advance(by: counts[i]) }
    return x
  }

  /// Scores over the vocabulary for one row of the hidden states that ``forward(tokens:cache:isCancelled:)`` returned.
  public func logits(hidden: [Float], row: Int) -> [Float] {
    logits(hidden: hidden, rows: row ..< (row + 1))
  }

  /// Scores for several rows, `[rows.count, vocab_size]` row-major.
  public func logits(hidden: [Float], rows: Range<Int>) -> [Float] {
    let h = configuration.hiddenSize
    precondition(rows.lowerBound >= 0 && rows.upperBound * h <= hidden.count, "rows out of range")
    var out = [Float](repeating: 0, count: rows.count * configuration.vocabSize)
    hidden.withUnsafeBufferPointer { hb in
      out.withUnsafeMutableBufferPointer { ob in
        pool.linear(
          hb.baseAddress! + rows.lowerBound * h,
          rows: rows.count,
          weight: weights.lmHead,
          bias: nil,
          into: ob.baseAddress!
        )
      }
    }
    return out
  }

  /// Scores for the given rows of `hidden` (in that order), `[rowIndices.count, vocab_size]`:
  /// the LM head's weights are read once for all of them.
  public func logits(hidden: [Float], rowIndices: [Int]) -> [Float] {
    let h = configuration.hiddenSize
    var gathered = [Float](repeating: 0, count: rowIndices.count * h)
    for (n, row) in rowIndices.enumerated() {
      precondition(row >= 0 && (row + 1) * h <= hidden.count, "row out of range")
      gathered[n * h ..< (n + 1) * h] = hidden[row * h ..< (row + 1) * h]
    }
    return logits(hidden: gathered, rows: 0 ..< rowIndices.count)
  }
}
