import Foundation
import Testing
import TutorTestSupport

/// Every command and every flag of `tutor` explains itself in `--help`, read from the argument
/// parser's own description of the tool (`--experimental-dump-help`), so a flag added without
/// help text fails here.
@Suite struct HelpTests {
  struct Undocumented: CustomStringConvertible {
    var command: String
    var argument: String
    var description: String { "\(command): \(argument)" }
  }

  static func walk(
    _ command: [String: Any],
    path: [String],
    into missing: inout [Undocumented],
    count: inout Int
  ) {
    let name = (path + [command["commandName"] as? String ?? "?"]).joined(separator: " ")
    count += 1
    if (command["abstract"] as? String ?? "").isEmpty {
      missing.append(Undocumented(command: name, argument: "(the command itself has no abstract)"))
    }
    for argument in command["arguments"] as? [[String: Any]] ?? [] {
      guard argument["shouldDisplay"] as? Bool ?? true else { continue }
      let names = (argument["names"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
      if names.contains("help") || names.contains("version") { continue }
      if (argument["abstract"] as? String ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
        let label = names.first ?? (argument["valueName"] as? String ?? "?")
        missing.append(Undocumented(command: name, argument: label))
      }
    }
    for sub in command["subcommands"] as? [[String: Any]] ?? [] where sub["commandName"] as? String != "help"
    {
      walk(sub, path: name.split(separator: " ").map(String.init), into: &missing, count: &count)
    }
  }

  @Test func everyCommandAndFlagHasHelpText() throws {
    let dump = try TutorCLI.run(["--experimental-dump-help"])
    #expect(dump.status == 0, "\(dump.stderr)")
    let tool = try CLITests.json(dump.stdout)
    let root = try #require(tool["command"] as? [String: Any])
    var missing: [Undocumented] = []
    var commands = 0
    Self.walk(root, path: [], into: &missing, count: &commands)
    #expect(commands > 20, "walked \(commands) commands")
    #expect(missing.isEmpty, "no help text: \(missing)")
  }

  @Test func serveHelpNamesTheDefaultsANewUserRunsWith() throws {
    let help = try TutorCLI.run(["serve", "--help"])
    let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    for expected in ["default: the bundled model, models/tutor", "--curricula", "--db", "--port", "--host"] {
      #expect(text.contains(expected), "\(expected)")
    }
  }
}
