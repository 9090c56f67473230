import ArgumentParser
import Engine
import Foundation

/// Dumps the residual stream of one prompt, for checking each block of a checkpoint against a
/// float64 reference (`tools/reference/layer_reference.py`).
struct ResidualStream: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "residual-stream",
    abstract: "Write a prompt's hidden states after the embeddings and after every block.",
    discussion: """
      The file holds float32 values, little-endian: the embeddings' output, each block's output
      (before the final LayerNorm), then the final hidden states, each [tokens, hidden_size]
      row-major; with --json, a header of the shapes and token ids is printed. The prompt is
      prefixed with <|endoftext|>.
      """
  )

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .long, help: "The prompt.")
  var prompt: String

  @Option(name: .long, help: ArgumentHelp("Where to write the float32 values.", valueName: "file"))
  var out: String

  func run() async throws {
    try await reportingErrors {
      let model = try modelOptions.loadModel()
      let tokenizer = try modelOptions.loadTokenizer()
      let start = tokenizer.endOfTextTokenId ?? model.configuration.bosTokenId ?? 0
      let tokens = [start] + tokenizer.encode(prompt, allowSpecialTokens: false)
      guard tokens.count <= model.configuration.maxPositionEmbeddings else {
        throw EngineError.contextOverflow(
          tokens: tokens.count,
          limit: model.configuration.maxPositionEmbeddings
        )
      }
      let stream = try model.residualStream(tokens: tokens)
      var data = Data(capacity: stream.count * stream[0].count * 4)
      for part in stream { part.withUnsafeBytes { data.append(contentsOf: $0) } }
      try data.write(to: URL(fileURLWithPath: out))
      try Console.writeJSON([
        "tokens": tokens, "hidden_size": model.configuration.hiddenSize, "arrays": stream.count,
        "layers": model.configuration.numLayers, "weights": model.weightFormat.rawValue, "file": out,
      ])
    }
  }
}
