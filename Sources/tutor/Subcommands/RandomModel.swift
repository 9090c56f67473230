import ArgumentParser
import Engine
import Foundation

/// `tutor random-model`: a GPT-Neo checkpoint of a chosen shape with random weights.
struct RandomModel: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "random-model",
    abstract: "Write a GPT-Neo checkpoint with seeded random weights (for load tests, demos and tests).",
    discussion: """
      The weights are untrained: the text it generates is noise. It loads, runs and costs like a \
      trained model of the same shape, so it serves to exercise the server and measure speed.
      """
  )

  @Option(name: .long, help: ArgumentHelp("Folder to write.", valueName: "dir"))
  var out: String

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Folder with the tokenizer (vocab.json + merges.txt, or tokenizer.json) to copy.",
      valueName: "dir"
    )
  )
  var tokenizer: String

  @Option(name: .long, help: "Context length (max_position_embeddings).") var context = 2048
  @Option(name: .long, help: "Hidden size.") var hidden = 64
  @Option(name: .long, help: "Layers (alternating global and local attention).") var layers = 2
  @Option(name: .long, help: "Attention heads.") var heads = 4
  @Option(name: .long, help: "Local attention window.") var window = 256
  @Option(name: .long, help: "Random seed.") var seed: UInt64 = 0

  func run() async throws {
    let tokenizerURL = URL(fileURLWithPath: tokenizer)
    let vocabulary = try await reportingErrors { try GPT2Tokenizer.load(directory: tokenizerURL) }
    let configuration = GPTNeoConfiguration(
      vocabSize: vocabulary.vocabularySize,
      maxPositionEmbeddings: context,
      hiddenSize: hidden,
      numLayers: layers,
      numHeads: heads,
      windowSize: window,
      bosTokenId: vocabulary.endOfTextTokenId,
      eosTokenId: vocabulary.endOfTextTokenId
    )
    try await reportingErrors {
      try GPTNeoModel.writeRandomCheckpoint(
        configuration: configuration,
        tokenizerDirectory: tokenizerURL,
        seed: seed,
        to: URL(fileURLWithPath: out)
      )
    }
    Console.error(
      "wrote \(out): GPT-Neo \(layers) layers × \(hidden) hidden, context \(context), random weights"
    )
  }
}
