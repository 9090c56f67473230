import ArgumentParser
import Foundation
import Tutoring

/// `tutor safety`: the message screen's rules and how well they do.
struct SafetyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "safety",
    abstract: "Screening of students' messages: check a message, or measure the rules on a labelled set.",
    subcommands: [Check.self, Evaluate.self, Rules.self]
  )

  /// The screen of a rules file (nil: the defaults), with names redacted or not; errors name
  /// the file and say what is wrong.
  static func screen(file: String?, redactNames: Bool = false) throws -> MessageScreen {
    do {
      guard let file else {
        return try MessageScreen(
          rules: MessageScreen.rules(yaml: MessageScreen.defaultRulesYAML),
          redactNames: redactNames
        )
      }
      guard let yaml = try? String(contentsOfFile: file, encoding: .utf8) else {
        throw ValidationError("\(file): cannot read the file")
      }
      do {
        return try MessageScreen(rules: MessageScreen.rules(yaml: yaml), redactNames: redactNames)
      } catch let error as MessageScreen.RulesError {
        throw ValidationError("\(file): \(error)")
      }
    }
  }

  struct Rules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the built-in screening rules: a starting point for --safety-config."
    )
    func run() async throws { print(MessageScreen.defaultRulesYAML) }
  }

  struct RulesOptions: ParsableArguments {
    @Option(
      name: .customLong("safety-config"),
      help: ArgumentHelp("Screening rules (YAML) instead of the defaults.", valueName: "file")
    )
    var safetyConfig: String?

    @Option(
      help: ArgumentHelp(
        "Sentence encoder for the classifier (default: \(SnippetEncoder.defaultDirectory) when present).",
        valueName: "dir"
      )
    )
    var encoder: String?

    @Flag(help: "The lexicon alone, without the embedding classifier.") var noClassifier = false

    func screen() throws -> MessageScreen { try SafetyCommand.screen(file: safetyConfig) }

    /// The encoder the classifier reads, as the server loads it; nil for the lexicon alone.
    func loadEncoder() throws -> SnippetEncoder? {
      if noClassifier { return nil }
      let directory = encoder ?? SnippetEncoder.defaultDirectory
      guard
        FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("config.json"))
      else {
        if encoder != nil { throw ValidationError("\(directory): no sentence encoder here") }
        Console.error("note: no sentence encoder at \(directory); the lexicon alone")
        return nil
      }
      return try SnippetEncoder.load(directory: directory, cachedQuestions: 0)
    }

    /// Each text's embedding as the server computes it (personal data redacted first).
    func vectors(_ texts: [String]) throws -> [[Float]]? {
      guard let encoder = try loadEncoder() else { return nil }
      let redactor = PersonalDataRedactor()
      return try texts.map { try encoder.embed([redactor.redact($0).text])[0] }
    }
  }

  struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "What the screen finds in one message.")
    @OptionGroup var rules: RulesOptions
    @Argument(help: "The message.") var text: String

    func run() async throws {
      let screen = try rules.screen()
      let findings = screen.screen(text, vector: try rules.vectors([text])?.first)
      if findings.isEmpty { print("nothing found") }
      for finding in findings {
        print(
          "\(finding.category.rawValue) (\(finding.severity.rawValue)): \(screen.actions[finding.category]?.rawValue ?? "flag")"
        )
      }
    }
  }

  struct Evaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "eval",
      abstract: "Precision and recall per category on a labelled set of messages.",
      discussion: """
        The set is YAML: `messages:` of `{text, labels: [self_harm|violence|sexual|bullying|personal_data], split: dev|test}`
        (no labels: benign). Prints a Markdown table, then each message the screen got wrong.
        """
    )
    @OptionGroup var rules: RulesOptions
    @Argument(help: "The labelled set.") var file: String
    @Option(help: "Only this split (dev or test).") var split: String?

    func run() async throws {
      guard let yaml = try? String(contentsOfFile: file, encoding: .utf8) else {
        throw ValidationError("\(file): cannot read the file")
      }
      let messages = try ScreeningEvaluation.messages(yaml: yaml, split: split)
      let evaluation = ScreeningEvaluation(
        screen: try rules.screen(),
        messages: messages,
        vectors: try rules.vectors(messages.map(\.text))
      )
      print("\(messages.count) messages\(split.map { " (split \($0))" } ?? "")\n")
      print(evaluation.table)
      for mistake in evaluation.mistakes {
        print(
          "- \"\(mistake.text)\": labelled [\(mistake.labels.map(\.rawValue).joined(separator: ", "))], found [\(mistake.found.map(\.rawValue).joined(separator: ", "))]"
        )
      }
    }
  }
}
