import ArgumentParser
import Engine
import Foundation

struct Perplexity: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Perplexity of the model over a UTF-8 text file.",
    discussion: """
      The text is prefixed with <|endoftext|> so that every token is scored. Texts longer than the
      context are scored with a sliding window that advances by --stride tokens (half the context
      by default); each token is scored once.
      """
  )

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .long, help: ArgumentHelp("UTF-8 text file to score.", valueName: "file"))
  var file: String

  @Option(name: .long, help: "Window advance in tokens (default: half the context length).")
  var stride: Int?

  @Flag(name: .long, help: "Print {\"perplexity\": x, \"tokens\": n}.")
  var json = false

  func run() async throws {
    try await reportingErrors {
      guard FileManager.default.fileExists(atPath: file) else {
        throw EngineError.fileNotFound(path: file)
      }
      guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
        Console.error("error: \(file): not valid UTF-8 text")
        throw ExitCode.failure
      }
      let model = try modelOptions.loadModel()
      let tokens = try modelOptions.loadTokenizer().encode(text, allowSpecialTokens: false)
      let result = try model.perplexity(tokens: tokens, stride: stride)
      if json {
        try Console.writeJSON([
          "perplexity": result.perplexity, "tokens": result.tokens, "mean_nll": result.meanNLL,
        ])
      } else {
        Console.write(String(format: "perplexity %.4f over %d tokens\n", result.perplexity, result.tokens))
      }
    }
  }
}
