import Foundation

/// Finds tensors across the safetensors files of a Hugging Face checkpoint directory:
/// `model.safetensors`, or the shards listed in `model.safetensors.index.json`, or else every
/// `*.safetensors` file in the directory.
/// Where ``GPTNeoWeights`` reads its tensors from.
protocol TensorSource {
  func contains(_ name: String) -> Bool
  func tensor(_ name: String, shape: [Int], format: WeightFormat?) throws -> WeightTensor
}

extension TensorSource {
  func tensor(_ name: String, shape: [Int]) throws -> WeightTensor {
    try tensor(name, shape: shape, format: nil)
  }
}

struct CheckpointReader: TensorSource {
  let directory: URL
  private let files: [SafeTensorsFile]
  private let index: [String: (file: Int, info: SafeTensorsFile.TensorInfo)]

  init(directory: URL) throws {
    self.directory = directory
    let fm = FileManager.default
    let single = directory.appendingPathComponent("model.safetensors")
    let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
    var paths: [String]
    if fm.fileExists(atPath: single.path) {
      paths = [single.path]
    } else if fm.fileExists(atPath: indexURL.path) {
      guard let json = try? JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any],
        let weightMap = json["weight_map"] as? [String: String]
      else {
        throw EngineError.corruptSafetensors(path: indexURL.path, reason: "no 'weight_map' object")
      }
      paths = Set(weightMap.values).sorted().map { directory.appendingPathComponent($0).path }
    } else {
      let names = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
      paths = names.filter { $0.hasSuffix(".safetensors") }.sorted().map {
        directory.appendingPathComponent($0).path
      }
      guard !paths.isEmpty else { throw EngineError.fileNotFound(path: single.path) }
    }
    files = try paths.map { try SafeTensorsFile(path: $0) }
    var index: [String: (file: Int, info: SafeTensorsFile.TensorInfo)] = [:]
    for (i, file) in files.enumerated() {
      for (name, info) in file.tensors { index[name] = (i, info) }
    }
    self.index = index
  }

  /// Whether the checkpoint holds `name` (with or without the `transformer.` prefix).
  func contains(_ name: String) -> Bool { locate(name) != nil }

  private func locate(_ name: String) -> (file: Int, info: SafeTensorsFile.TensorInfo)? {
    index["transformer." + name] ?? index[name]
  }

  /// Loads a tensor, checking its shape against what `config.json` implies: a copy, so that the
  /// files are unmapped once the model is loaded. `format` is given for the weight matrices
  /// (embeddings, LM head, Linear layers), which are packed in that format; other tensors
  /// (positions, LayerNorms, biases) are float32.
  func tensor(_ name: String, shape: [Int], format: WeightFormat?) throws -> WeightTensor {
    guard let (fileIndex, info) = locate(name) else {
      throw EngineError.missingTensor(name: name, directory: directory.path)
    }
    let file = files[fileIndex]
    guard let dtype = info.dtype else {
      throw EngineError.unsupportedDType(name: info.name, dtype: info.dtypeName, path: file.path)
    }
    guard info.shape == shape else {
      throw EngineError.shapeMismatch(name: info.name, expected: shape, actual: info.shape, path: file.path)
    }
    let tensor = WeightTensor(shape: shape, bytes: file.bytes(of: info), dtype: dtype, format: format)
    file.file.releaseResidentPages()
    return tensor
  }
}
