import Foundation
import Testing
import TutorTestSupport

/// The `tutor` executable end to end: the exact interfaces other tools call, and its errors.
@Suite struct CLITests {
  static let repository = Repository.root
  static let model = Repository.tokenizer.path

  static func json(_ text: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test func generateJSONMatchesTheReference() throws {
    let reference = try Self.json(
      String(contentsOfFile: Self.model + "/reference.json", encoding: .utf8)
    )
    let greedy = try #require((reference["greedy"] as? [[String: Any]])?.first)
    let prompt = try #require((reference["prompts"] as? [[String: Any]])?.first?["text"] as? String)
    let result = try TutorCLI.run([
      "generate", "--model", Self.model, "--prompt", prompt, "--max-new-tokens", "64", "--json",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let output = try Self.json(result.stdout)
    #expect(output["prompt_token_ids"] as? [Int] == greedy["prompt_token_ids"] as? [Int])
    #expect(output["token_ids"] as? [Int] == greedy["token_ids"] as? [Int])
    #expect(output["text"] as? String == greedy["text"] as? String)
  }

  @Test func generateWithSeedIsReproducibleAndStopsAtStopStrings() throws {
    let args = [
      "generate", "--model", Self.model, "--prompt", "The teacher said", "--max-new-tokens", "12",
      "--temperature", "0.9", "--top-k", "40", "--top-p", "0.9", "--seed", "5", "--json",
    ]
    let a = try Self.json(TutorCLI.run(args).stdout)
    let b = try Self.json(TutorCLI.run(args).stdout)
    #expect(a["token_ids"] as? [Int] == b["token_ids"] as? [Int])
    #expect((a["token_ids"] as? [Int])?.count == 12)

    let greedy = try Self.json(
      TutorCLI.run(["generate", "--model", Self.model, "--prompt", "Photosynthesis is", "--json"]).stdout
    )
    let text = try #require(greedy["text"] as? String)
    let stopped = try Self.json(
      TutorCLI.run([
        "generate", "--model", Self.model, "--prompt", "Photosynthesis is", "--stop", " desc", "--stop",
        "zzz", "--json",
      ]).stdout
    )
    #expect(stopped["text"] as? String == String(text[..<text.range(of: " desc")!.lowerBound]))
    #expect(stopped["finish_reason"] as? String == "stop_sequence")
  }

  @Test func tokenizeReadsStdin() throws {
    let result = try TutorCLI.run(
      ["tokenize", "--model", Self.model, "--json"],
      stdin: "Hello world<|endoftext|>"
    )
    #expect(result.status == 0)
    #expect(try Self.json(result.stdout)["token_ids"] as? [Int] == [15496, 995, 50256])
    let plain = try TutorCLI.run(["tokenize", "--model", Self.model], stdin: "Hello world")
    #expect(plain.stdout == "15496\n995\n")
  }

  @Test func perplexityPrintsJSON() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("ppl-\(UUID().uuidString).txt")
    let reference = try Self.json(String(contentsOfFile: Self.model + "/reference.json", encoding: .utf8))
    let expected = try #require(reference["perplexity"] as? [String: Any])
    try (expected["text"] as! String).write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try TutorCLI.run(["perplexity", "--model", Self.model, "--file", file.path, "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let output = try Self.json(result.stdout)
    #expect(output["tokens"] as? Int == expected["tokens"] as? Int)
    let ppl = try #require(output["perplexity"] as? Double)
    #expect(abs(ppl / (expected["perplexity"] as! Double) - 1) < 1e-3)
  }

  @Test(arguments: [
    (["generate", "--model", "/no/such/model", "--prompt", "x"], "/no/such/model: file not found"),
    (["perplexity", "--model", "MODEL", "--file", "/no/such.txt"], "/no/such.txt: file not found"),
    (["generate", "--model", "MODEL", "--prompt", "x", "--top-p", "1.5"], "invalid top_p"),
    (["generate", "--model", "MODEL", "--prompt", "x", "--temperature=-1"], "invalid temperature"),
    (["tokenize", "--model", "/tmp"], "vocab.json: file not found"),
    (
      ["stats", "--db", "postgres://tutor@127.0.0.1:1/tutor"],
      "error: postgres://tutor@127.0.0.1:1/tutor: cannot open the database: connectionError"
    ),
    (
      ["export", "--format", "csv", "--db", "/no/such/tutor.sqlite"],
      "error: no database at /no/such/tutor.sqlite"
    ),
  ])
  func errorsAreOneClearLine(arguments: [String], message: String) throws {
    let result = try TutorCLI.run(arguments.map { $0 == "MODEL" ? Self.model : $0 })
    #expect(result.status != 0)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(result.stderr)")
    #expect(result.stderr.contains(message), "\(result.stderr)")
  }

  @Test func brokenCheckpointsNameTheFile() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: URL(fileURLWithPath: Self.model), to: dir)
    defer { try? FileManager.default.removeItem(at: dir) }
    let weights = dir.appendingPathComponent("model.safetensors")
    let data = try Data(contentsOf: weights)
    try data.prefix(data.count / 2).write(to: weights)
    let result = try TutorCLI.run(["generate", "--model", dir.path, "--prompt", "x"])
    #expect(result.status == 1)
    #expect(result.stderr.hasPrefix("error: \(weights.path): corrupt safetensors file:"), "\(result.stderr)")
    #expect(result.stderr.split(separator: "\n").count == 1)
  }
}
