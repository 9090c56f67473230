import ArgumentParser
import Foundation
import Tutoring

/// `tutor safety`: the message screen's rules and how well they do.
struct SafetyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "safety",
    abstract: "Screening of students' messages: check a message, or measure the rules on a labelled set.",
    subcommands: [Check.self, Evaluate.self]
  )

  struct RulesOptions: ParsableArguments {
    @Option(
      name: .customLong("safety-config"),
      help: ArgumentHelp("Screening rules (YAML) instead of the defaults.", valueName: "file")
    )
    var safetyConfig: String?

    func screen() throws -> MessageScreen {
      guard let safetyConfig else { return .standard }
      guard let yaml = try? String(contentsOfFile: safetyConfig, encoding: .utf8) else {
        throw ValidationError("\(safetyConfig): cannot read the file")
      }
      do {
        return try MessageScreen(rules: MessageScreen.rules(yaml: yaml))
      } catch let error as MessageScreen.RulesError {
        throw ValidationError("\(safetyConfig): \(error)")
      }
    }
  }

  struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "What the screen finds in one message.")
    @OptionGroup var rules: RulesOptions
    @Argument(help: "The message.") var text: String

    func run() async throws {
      let findings = try rules.screen().screen(text)
      if findings.isEmpty { print("nothing found") }
      for finding in findings { print("\(finding.category.rawValue) (\(finding.severity.rawValue))") }
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
      let evaluation = ScreeningEvaluation(screen: try rules.screen(), messages: messages)
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
