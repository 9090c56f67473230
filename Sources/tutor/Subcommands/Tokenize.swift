import ArgumentParser
import Engine
import Foundation

struct Tokenize: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Tokenize UTF-8 text read from stdin with the checkpoint's GPT-2 tokenizer."
  )

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Checkpoint directory holding vocab.json + merges.txt or tokenizer.json.",
      valueName: "dir"
    )
  )
  var model: String

  @Flag(name: .long, help: "Print {\"token_ids\": [...]} instead of one id per line.")
  var json = false

  func run() async throws {
    try await reportingErrors {
      let tokenizer = try GPT2Tokenizer.load(directory: URL(fileURLWithPath: model))
      let input = FileHandle.standardInput.readDataToEndOfFile()
      guard let text = String(data: input, encoding: .utf8) else {
        Console.error("error: stdin is not valid UTF-8")
        throw ExitCode.failure
      }
      let ids = tokenizer.encode(text)
      if json {
        try Console.writeJSON(["token_ids": ids])
      } else {
        Console.write(ids.map(String.init).joined(separator: "\n") + (ids.isEmpty ? "" : "\n"))
      }
    }
  }
}
