import Foundation
import Testing

@testable import Engine

/// Checkpoint loading: published configurations, and clear errors for broken files.
@Suite struct LoadingTests {
  /// A scratch copy of a fixture checkpoint that a test may damage.
  final class Scratch {
    let url: URL
    init(copying name: String) throws {
      url = FileManager.default.temporaryDirectory.appendingPathComponent("gptneo-\(UUID().uuidString)")
      try FileManager.default.copyItem(at: Fixtures.directory(name), to: url)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
      let file = url.appendingPathComponent("config.json")
      var json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
      edit(&json)
      try JSONSerialization.data(withJSONObject: json).write(to: file)
    }
  }

  /// Writes a safetensors file from raw tensors.
  static func writeSafetensors(_ tensors: [(String, String, [Int], Data)], to url: URL) throws {
    var header: [String: Any] = [:]
    var body = Data()
    for (name, dtype, shape, data) in tensors {
      header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [body.count, body.count + data.count]]
      body.append(data)
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: .sortedKeys)
    while json.count % 8 != 0 { json.append(0x20) }
    var length = UInt64(json.count).littleEndian
    var file = Data(bytes: &length, count: 8)
    file.append(json)
    file.append(body)
    try file.write(to: url)
  }

  @Test(arguments: [
    // EleutherAI/gpt-neo-125M, 1.3B and 2.7B as published (the fields the engine reads).
    (768, 12, 12, #"[[["global", "local"], 6]]"#, 125_198_592),
    (2048, 24, 16, #"[[["global", "local"], 12]]"#, 1_315_575_808),
    (2560, 32, 20, #"[[["global", "local"], 16]]"#, 2_651_307_520),
  ])
  func publishedConfigurationsParse(
    hidden: Int,
    layers: Int,
    heads: Int,
    types: String,
    parameters: Int
  ) throws {
    let expandedLayers =
      "[" + (0 ..< layers).map { $0 % 2 == 0 ? #""global""# : #""local""# }.joined(separator: ", ") + "]"
    let json = """
      {"activation_function": "gelu_new", "architectures": ["GPTNeoForCausalLM"], "attention_dropout": 0,
       "attention_layers": \(expandedLayers),
       "attention_types": \(types), "bos_token_id": 50256, "embed_dropout": 0, "eos_token_id": 50256,
       "gradient_checkpointing": false, "hidden_size": \(hidden), "initializer_range": 0.02,
       "intermediate_size": null, "layer_norm_epsilon": 1e-05, "max_position_embeddings": 2048,
       "model_type": "gpt_neo", "num_heads": \(heads), "num_layers": \(layers), "resid_dropout": 0,
       "summary_activation": null, "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
       "summary_type": "cls_index", "summary_use_proj": true, "transformers_version": "4.9.0.dev0",
       "use_cache": true, "vocab_size": 50257, "window_size": 256}
      """
    let config = try JSONDecoder().decode(GPTNeoConfiguration.self, from: Data(json.utf8))
    try config.validate()
    #expect(config.hiddenSize == hidden && config.numLayers == layers && config.numHeads == heads)
    #expect(config.innerSize == 4 * hidden)
    #expect(config.headDim == hidden / heads)
    #expect(config.attentionLayers.count == layers)
    #expect(
      config.attentionLayers.enumerated().allSatisfy { $0.element == ($0.offset % 2 == 0 ? .global : .local) }
    )
    // Parameter count of the architecture (tied head counted once) matches the published size.
    let h = hidden
    let perLayer = 4 * h + 4 * h * h + h + 2 * (4 * h * h) + 4 * h + h
    #expect(50257 * h + 2048 * h + layers * perLayer + 2 * h == parameters)
  }

  @Test func missingFilesNameThePath() throws {
    let scratch = try Scratch(copying: "tiny-bf16")
    try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("config.json"))
    #expect(throws: EngineError.fileNotFound(path: scratch.url.appendingPathComponent("config.json").path)) {
      try GPTNeoModel.load(directory: scratch.url)
    }
    #expect(throws: EngineError.fileNotFound(path: "/definitely/not/here")) {
      try GPTNeoModel.load(directory: URL(fileURLWithPath: "/definitely/not/here"))
    }
  }

  @Test func badConfigurationsAreExplained() throws {
    let scratch = try Scratch(copying: "tiny-bf16")
    try scratch.editConfig { $0["activation_function"] = "gelu_magic" }
    let error = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(error.description.contains("unknown activation_function 'gelu_magic'"))

    try scratch.editConfig {
      $0["activation_function"] = "gelu"
      $0["num_layers"] = 3
    }
    let layers = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(layers.description.contains("num_layers is 3"))

    try scratch.editConfig {
      $0["num_layers"] = 2
      $0["hidden_size"] = 40
    }
    let shape = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    guard case .shapeMismatch(let name, let expected, let actual, _) = shape else {
      Issue.record("expected a shape mismatch, got \(shape)")
      return
    }
    #expect(name == "transformer.wte.weight" && expected == [512, 40] && actual == [512, 32])

    try scratch.editConfig { $0["hidden_size"] = "big" }
    let type = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(type.description.contains("hidden_size"))
  }

  @Test func truncatedAndCorruptWeightsAreReported() throws {
    let scratch = try Scratch(copying: "tiny-bf16")
    let weights = scratch.url.appendingPathComponent("model.safetensors")
    let original = try Data(contentsOf: weights)

    try original.prefix(original.count - 100).write(to: weights)
    let truncated = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(truncated.description.contains("truncated"))
    #expect(truncated.description.contains(weights.path))

    var garbage = original
    garbage.replaceSubrange(8 ..< 40, with: Data(repeating: 0x7B, count: 32))
    try garbage.write(to: weights)
    let corrupt = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(corrupt.description.contains("header is not a JSON object"))

    var huge = original
    huge.replaceSubrange(0 ..< 8, with: Data([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]))
    try huge.write(to: weights)
    let length = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(length.description.contains("exceeds the file size"))

    try Data().write(to: weights)
    #expect(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
  }

  @Test func missingTensorsAndUnsupportedTypes() throws {
    let scratch = try Scratch(copying: "tiny-bf16")
    let weights = scratch.url.appendingPathComponent("model.safetensors")
    try Self.writeSafetensors(
      [("transformer.wte.weight", "F64", [512, 32], Data(count: 512 * 32 * 8))],
      to: weights
    )
    let dtype = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(dtype == .unsupportedDType(name: "transformer.wte.weight", dtype: "F64", path: weights.path))

    try Self.writeSafetensors(
      [("transformer.wte.weight", "F32", [512, 32], Data(count: 512 * 32 * 4))],
      to: weights
    )
    #expect(throws: EngineError.missingTensor(name: "wpe.weight", directory: scratch.url.path)) {
      try GPTNeoModel.load(directory: scratch.url)
    }

    try Self.writeSafetensors(
      [("transformer.wte.weight", "F32", [512, 32], Data(count: 100))],
      to: weights
    )
    let size = try #require(throws: EngineError.self) { try GPTNeoModel.load(directory: scratch.url) }
    #expect(size.description.contains("holds 100 bytes"))
  }

  @Test func shardsAreFoundThroughTheIndex() throws {
    let model = try Fixtures.model("tiny-local-first-f16-sharded")
    #expect(model.configuration.attentionLayers == [.local, .global, .local])
    #expect(model.configuration.innerSize == 80)
    let scratch = try Scratch(copying: "tiny-local-first-f16-sharded")
    try FileManager.default.removeItem(
      at: scratch.url.appendingPathComponent("model-00002-of-00002.safetensors")
    )
    #expect(
      throws: EngineError.fileNotFound(
        path: scratch.url.appendingPathComponent("model-00002-of-00002.safetensors").path
      )
    ) {
      try GPTNeoModel.load(directory: scratch.url)
    }
  }

  @Test func weightMatricesArePackedAndNothingStaysInTheMapping() throws {
    let f32 = try Fixtures.model("tiny-global-first")
    #expect(f32.weights.wte.isPacked && f32.weights.wte.format == .float32)
    #expect(f32.weights.layers.allSatisfy { $0.fcWeight.isPacked && !$0.projBias.isPacked })
    let f16 = try Fixtures.model("tiny-local-first-f16-sharded")
    #expect(f16.weights.wte.isPacked && f16.weights.wte.format == .float32)
    // The model holds copies: the file's mapping is gone once it is loaded (a scratch copy, so
    // that no other test maps the same path meanwhile).
    let scratch = try Scratch(copying: "tiny-global-first")
    let model = try GPTNeoModel.load(directory: scratch.url)
    let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
    #expect(!maps.contains(scratch.url.path) && model.weights.wte.isPacked)
  }

}
