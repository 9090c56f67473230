import Foundation

/// Writes float32 tensors as a `.safetensors` file (the format Hugging Face reads and writes).
public enum SafeTensorsWriter {
  /// Writes `tensors` (name → shape and row-major values) to `url`, names in sorted order.
  public static func write(_ tensors: [String: (shape: [Int], values: [Float])], to url: URL) throws {
    var header: [String: Any] = [:]
    var offset = 0
    let names = tensors.keys.sorted()
    for name in names {
      let (shape, values) = tensors[name]!
      precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
      header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + values.count * 4]]
      offset += values.count * 4
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    // The data starts 8-byte aligned, as the reference implementation pads with spaces.
    while (8 + json.count) % 8 != 0 { json.append(0x20) }
    var data = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    for name in names {
      tensors[name]!.values.withUnsafeBytes { data.append(contentsOf: $0) }
    }
    try data.write(to: url, options: .atomic)
  }
}

extension GPTNeoModel {
  /// Writes a GPT-Neo checkpoint with seeded random weights (normal, std 0.02, as GPT-Neo is
  /// initialised) and the given tokenizer files: for load tests, demos and end-to-end tests that
  /// need a model of a given shape but not a trained one.
  ///
  /// - Parameters:
  ///   - configuration: the shape; written as `config.json`.
  ///   - tokenizerDirectory: a folder with `vocab.json` + `merges.txt` or `tokenizer.json`, copied.
  public static func writeRandomCheckpoint(
    configuration: GPTNeoConfiguration,
    tokenizerDirectory: URL,
    seed: UInt64 = 0,
    to directory: URL
  ) throws {
    try configuration.validate()
    let fm = FileManager.default
    try fm.createDirectory(at: directory, withIntermediateDirectories: true)
    var random = RandomSource(seed: seed)
    func normal(_ count: Int) -> [Float] {
      (0 ..< count).map { _ in
        // Box–Muller.
        let u1 = max(random.nextUnit(), 1e-300)
        let u2 = random.nextUnit()
        return Float(0.02 * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
      }
    }
    let c = configuration
    let h = c.hiddenSize
    let inner = c.innerSize
    var tensors: [String: (shape: [Int], values: [Float])] = [
      "transformer.wte.weight": ([c.vocabSize, h], normal(c.vocabSize * h)),
      "transformer.wpe.weight": ([c.maxPositionEmbeddings, h], normal(c.maxPositionEmbeddings * h)),
      "transformer.ln_f.weight": ([h], Array(repeating: 1, count: h)),
      "transformer.ln_f.bias": ([h], Array(repeating: 0, count: h)),
    ]
    for i in 0 ..< c.numLayers {
      let p = "transformer.h.\(i)."
      for name in ["ln_1", "ln_2"] {
        tensors[p + name + ".weight"] = ([h], Array(repeating: 1, count: h))
        tensors[p + name + ".bias"] = ([h], Array(repeating: 0, count: h))
      }
      for name in ["q_proj", "k_proj", "v_proj", "out_proj"] {
        tensors[p + "attn.attention." + name + ".weight"] = ([h, h], normal(h * h))
      }
      tensors[p + "attn.attention.out_proj.bias"] = ([h], normal(h))
      tensors[p + "mlp.c_fc.weight"] = ([inner, h], normal(inner * h))
      tensors[p + "mlp.c_fc.bias"] = ([inner], normal(inner))
      tensors[p + "mlp.c_proj.weight"] = ([h, inner], normal(h * inner))
      tensors[p + "mlp.c_proj.bias"] = ([h], normal(h))
    }
    if !c.tieWordEmbeddings {
      tensors["lm_head.weight"] = ([c.vocabSize, h], normal(c.vocabSize * h))
    }
    try SafeTensorsWriter.write(tensors, to: directory.appendingPathComponent("model.safetensors"))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(configuration).write(to: directory.appendingPathComponent("config.json"))
    for file in ["vocab.json", "merges.txt", "tokenizer.json"] {
      let source = tokenizerDirectory.appendingPathComponent(file)
      let target = directory.appendingPathComponent(file)
      guard fm.fileExists(atPath: source.path) else { continue }
      if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
      try fm.copyItem(at: source, to: target)
    }
  }
}
