import ArgumentParser
import Curriculum
import Engine
import Foundation
import Tutoring

/// `tutor curriculum training-data`: tutoring dialogues from the curricula, as training data.
struct TrainingData: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "training-data",
    abstract:
      "Write tutoring dialogues derived from the curricula, in the server's prompt format (JSON Lines).",
    discussion: """
      One object per line: curriculum, lesson, kind (section, term or hint), question, prompt
      (built exactly as the server builds it: template, lesson, retrieved snippets, the
      question), completion (the answer from the lesson, then the stop sequence), snippet_ids and
      notes (the notes the prompt quotes), stop (the stop sequence) and split
      ("train", or "held-out" for the --hold-out curricula, kept for evaluation).
      """
  )

  @Option(help: ArgumentHelp("Folder of curricula.", valueName: "dir")) var curricula = "curricula"
  @Option(
    help: ArgumentHelp("Tokenizer folder (vocab.json + merges.txt) to count prompt tokens.", valueName: "dir")
  )
  var tokenizer: String
  @Option(help: "The model's context length.") var context = 2048
  @Option(
    help:
      "Tokens reserved for the answer (default: the curriculum's generation.max_new_tokens, as the server reserves, else \(TrainingExamples.defaultAnswerTokens))."
  )
  var answerTokens: Int?
  @Option(name: .customLong("hold-out"), help: "A curriculum kept out of training (repeat).") var holdOut:
    [String] = []
  @Option(help: "Write here instead of standard output.") var out: String?

  func run() throws {
    let library = CurriculumLibrary.load(root: curricula)
    for d in library.diagnostics where d.severity == .error { Console.error("\(d)") }
    guard !library.curricula.isEmpty else { throw ValidationError("no valid curricula under \(curricula)") }
    for id in holdOut where library.curriculum(id) == nil {
      throw ValidationError("--hold-out: no curriculum '\(id)' under \(curricula)")
    }
    let bpe = try GPT2Tokenizer.load(directory: URL(fileURLWithPath: tokenizer))
    let examples = TrainingExamples.make(
      curricula: library.curricula,
      index: SnippetIndex(library: library),
      contextLength: context,
      answerTokens: answerTokens
    ) { bpe.encode($0, allowSpecialTokens: false).count }
    var lines = Data()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    struct Line: Encodable {
      var example: TrainingExample
      var split: String
      func encode(to encoder: any Encoder) throws {
        try example.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(split, forKey: .split)
      }
      enum Keys: String, CodingKey { case split }
    }
    var counts: [String: Int] = [:]
    for example in examples {
      let split = holdOut.contains(example.curriculum) ? "held-out" : "train"
      counts[split, default: 0] += 1
      lines += try encoder.encode(Line(example: example, split: split)) + Data("\n".utf8)
    }
    if let out {
      try lines.write(to: URL(fileURLWithPath: out))
    } else {
      FileHandle.standardOutput.write(lines)
    }
    Console.error(
      "\(examples.count) examples: "
        + counts.sorted { $0.key > $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    )
  }
}
