/// Everything that can go wrong while loading or running a model of the engine (GPT-Neo or BERT).
///
/// Each case names the file or tensor at fault so that the one-line message printed by the CLI
/// says what to fix.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A file the checkpoint needs is missing.
  case fileNotFound(path: String)
  /// `config.json` is malformed or describes an impossible model.
  case invalidConfiguration(path: String, reason: String)
  /// A safetensors file whose header or layout is broken.
  case corruptSafetensors(path: String, reason: String)
  /// A file the engine keeps (packed weights) could not be written.
  case cannotWrite(path: String, reason: String)
  /// A tensor the architecture needs is absent from every weight file.
  case missingTensor(name: String, directory: String)
  /// A tensor whose shape disagrees with `config.json`.
  case shapeMismatch(name: String, expected: [Int], actual: [Int], path: String)
  /// A tensor stored in a dtype the engine does not read.
  case unsupportedDType(name: String, dtype: String, path: String)
  /// The tokenizer files are missing or malformed.
  case invalidTokenizer(path: String, reason: String)
  /// A token id outside the vocabulary.
  case tokenOutOfRange(id: Int, vocabularySize: Int)
  /// The request does not fit the model's context window.
  case contextOverflow(tokens: Int, limit: Int)
  /// Bad generation settings (negative temperature, top-p outside (0, 1], ...).
  case invalidParameter(name: String, reason: String)
  /// An empty input where at least one token is needed.
  case emptyInput(String)

  public var description: String {
    switch self {
    case .fileNotFound(let path):
      return "\(path): file not found"
    case .invalidConfiguration(let path, let reason):
      return "\(path): invalid model configuration: \(reason)"
    case .corruptSafetensors(let path, let reason):
      return "\(path): corrupt safetensors file: \(reason)"
    case .cannotWrite(let path, let reason):
      return "\(path): cannot write: \(reason)"
    case .missingTensor(let name, let directory):
      return "\(directory): no weight file holds tensor '\(name)'"
    case .shapeMismatch(let name, let expected, let actual, let path):
      return "\(path): tensor '\(name)' has shape \(actual), config.json implies \(expected)"
    case .unsupportedDType(let name, let dtype, let path):
      return "\(path): tensor '\(name)' has dtype \(dtype); supported: F32, F16, BF16"
    case .invalidTokenizer(let path, let reason):
      return "\(path): invalid tokenizer: \(reason)"
    case .tokenOutOfRange(let id, let vocabularySize):
      return "token id \(id) is outside the vocabulary (0..<\(vocabularySize))"
    case .contextOverflow(let tokens, let limit):
      return "\(tokens) tokens do not fit the model's context of \(limit) positions"
    case .invalidParameter(let name, let reason):
      return "invalid \(name): \(reason)"
    case .emptyInput(let what):
      return "empty input: \(what)"
    }
  }
}
