import Foundation
import Testing
import TutorTestSupport

/// No Docker engine runs here, so the Dockerfile is checked against what does run: the README's
/// own run command (same packages, same build and model commands) and the binary's flags.
@Suite struct DockerfileTests {
  static func read(_ path: String) throws -> String {
    try String(contentsOf: CLITests.repository.appendingPathComponent(path), encoding: .utf8)
  }

  /// The README's run command: the one line in the first ```sh block under "Two commands".
  static func readmeRunCommand() throws -> String {
    let readme = try read("README.md")
    let section = try #require(readme.range(of: "## Two commands"))
    let block = try #require(readme.range(of: "```sh\n", range: section.upperBound ..< readme.endIndex))
    let end = try #require(readme.range(of: "\n```", range: block.upperBound ..< readme.endIndex))
    return String(readme[block.upperBound ..< end.lowerBound])
  }

  /// The words of a shell fragment (no quoting is used in either file).
  static func words(_ text: Substring) -> [String] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\\" }).map(String.init)
  }

  @Test func theBuildStageRunsTheREADMEsSteps() throws {
    let dockerfile = try Self.read("Dockerfile")
    let steps = try Self.readmeRunCommand().components(separatedBy: " && ")
    // README: bootstrap with its packages, build, serve (the bundled model, the defaults).
    #expect(steps.count == 3 && steps[0].hasPrefix("tools/bootstrap.sh"), "\(steps)")
    #expect(steps[2] == ".build/release/tutor serve", "\(steps)")
    // The build stage's RUN instruction: from "RUN tools/bootstrap.sh" to the blank line after it.
    let run = try #require(dockerfile.range(of: "RUN tools/bootstrap.sh"))
    let rest = dockerfile[run.lowerBound...]
    let buildRun = rest[..<(rest.range(of: "\n\n")?.lowerBound ?? rest.endIndex)]
    let dockerSteps = buildRun.dropFirst(4).components(separatedBy: "&&").map {
      Self.words(Substring($0)).joined(separator: " ")
    }
    #expect(dockerSteps.count == 2, "\(dockerSteps)")
    // The same packages and the same build (plus a static Swift runtime for the slim image).
    #expect(dockerSteps[0] == steps[0])
    #expect(dockerSteps[1] == steps[1] + " --static-swift-stdlib")
  }

  @Test func theRuntimeStageServesWithFlagsTheBinaryHasAndChecksHealth() throws {
    let dockerfile = try Self.read("Dockerfile")
    let lines = dockerfile.split(separator: "\n").map(String.init)
    func json(_ instruction: String) throws -> [String] {
      let line = try #require(lines.first { $0.hasPrefix(instruction + " ") && $0.contains("[") })
      let array = line[line.firstIndex(of: "[")!...]
      return try #require(try JSONSerialization.jsonObject(with: Data(array.utf8)) as? [String])
    }
    let entry = try json("ENTRYPOINT")
    #expect(Array(entry.prefix(2)) == ["tutor", "serve"])
    // Every flag it passes is one `tutor serve` has.
    let help = try TutorCLI.run(["serve", "--help"]).stdout
    for flag in entry where flag.hasPrefix("--") {
      #expect(help.contains(flag + " "), "tutor serve has no \(flag)")
    }
    func value(_ flag: String) -> String? {
      entry.firstIndex(of: flag).flatMap {
        entry.index(after: $0) < entry.count ? entry[entry.index(after: $0)] : nil
      }
    }
    let port = try #require(value("--port"))
    #expect(lines.contains("EXPOSE \(port)"))
    #expect(value("--host") == "0.0.0.0", "reachable from outside the container")
    // The database lives in the volume, which belongs to the non-root user.
    let db = try #require(value("--db"))
    let volume = try #require(lines.first { $0.hasPrefix("VOLUME ") }).dropFirst(7)
    #expect(db.hasPrefix(volume + "/"))
    #expect(lines.contains { $0.hasPrefix("USER ") && !$0.hasSuffix(" root") })
    #expect(dockerfile.contains("--home-dir \(volume)"))
    // The model and curricula it serves are the ones copied in: the bundled model (the default of
    // the README's `tutor serve`, which HelpTests checks) and the curricula.
    #expect(lines.contains("COPY models/tutor \(value("--model") ?? "-")"))
    #expect(lines.contains("COPY curricula \(value("--curricula") ?? "-")"))
    // The sentence encoder that the build stage's bootstrap fetched, and its cache in the volume.
    #expect(lines.contains("COPY --from=build /src/models/all-MiniLM-L6-v2 \(value("--encoder") ?? "-")"))
    #expect(value("--embedding-cache")?.hasPrefix(volume + "/") == true)
    let health = try json("HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD")
    #expect(Array(health.prefix(4)) == ["tutor", "health", "--server", "127.0.0.1:\(port)"])
    // The runtime image installs the runtime library of what the build installed.
    #expect(dockerfile.contains("install -y --no-install-recommends libsqlite3-0"))
  }
}
