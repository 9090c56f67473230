import ArgumentParser
import Engine
import Foundation

/// Options shared by the commands that load a checkpoint.
struct ModelOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Hugging Face GPT-Neo checkpoint directory (config.json, *.safetensors, vocab.json + merges.txt or tokenizer.json).",
      valueName: "dir"
    )
  )
  var model: String

  @Option(name: .long, help: "Compute threads (default: every core).")
  var threads: Int?

  @Option(
    name: [.customLong("weights"), .customLong("quantize")],
    help: "How the large weight matrices are held: float32 (exact), float16 or int8 (per-row scales)."
  )
  var weights: WeightFormat = .float32

  @Option(
    name: .customLong("kv-cache"),
    help:
      "How the attention cache holds keys and values: float32 (exact), float16 or int8 (a quarter of the memory)."
  )
  var kvCache: KVCacheFormat = .float32

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Keep the packed weights in this folder and map them on the next start instead of repacking (default: off).",
      valueName: "dir"
    )
  )
  var packedWeights: String?

  var directory: URL { URL(fileURLWithPath: model) }

  func validate() throws {
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
  }

  func loadModel() throws -> GPTNeoModel {
    try GPTNeoModel.load(
      directory: directory,
      options: .init(
        threads: threads,
        weightFormat: weights,
        kvCacheFormat: kvCache,
        packedWeightsDirectory: packedWeights.map { URL(fileURLWithPath: $0) }
      )
    )
  }

  func loadTokenizer() throws -> GPT2Tokenizer {
    try GPT2Tokenizer.load(directory: directory)
  }
}

/// Output helpers: stdout through FileHandle (the global `stdout` is not concurrency-safe).
enum Console {
  static func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  static func error(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
  }

  /// One JSON object on one line, keys sorted so that output is stable.
  static func writeJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(
      withJSONObject: object,
      options: [.sortedKeys, .withoutEscapingSlashes]
    )
    FileHandle.standardOutput.write(data + Data("\n".utf8))
  }
}

/// Runs a command body; engine errors become one `error: …` line on stderr and exit status 1.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
  do {
    return try await body()
  } catch let error as EngineError {
    Console.error("error: \(error)")
    throw ExitCode.failure
  } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
    Console.error("error: \(error.userInfo[NSFilePathErrorKey] ?? "file"): file not found")
    throw ExitCode.failure
  }
}

extension WeightFormat: ExpressibleByArgument {}
extension KVCacheFormat: ExpressibleByArgument {}
