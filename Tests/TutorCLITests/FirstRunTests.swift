import Foundation
import Testing
import TutorTestSupport

/// The README's first run: `tutor serve` with no flags, from the repository root, serves the
/// bundled model and `curricula/`, creating its data directory; a second terminal makes a token,
/// starts a session and gets a streamed explanation.
@Suite struct FirstRunTests {
  @Test func serveOnTheDefaultsThenAskFromAnotherTerminal() async throws {
    let data = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tutor-first-run-\(UUID().uuidString)/data"
    )
    defer { try? FileManager.default.removeItem(at: data.deletingLastPathComponent()) }
    #expect(!FileManager.default.fileExists(atPath: data.path))

    let server = Process()
    server.executableURL = TutorCLI.executable
    server.currentDirectoryURL = CLITests.repository
    // Only the port differs from the README's `tutor serve`, so tests can run side by side.
    server.arguments = ["serve", "--port", "0"]
    server.environment = ProcessInfo.processInfo.environment.merging(["TUTOR_DATA_DIR": data.path]) { $1 }
    let log = Pipe()
    server.standardError = log
    server.standardOutput = FileHandle.nullDevice
    try server.run()
    defer { if server.isRunning { server.terminate() } }
    let lines = LineReader(log.fileHandleForReading)
    var address: String?
    while address == nil, let line = lines.next() {
      lines.seen.append(line)
      if line.hasSuffix("serving"),
        let range = line.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression)
      {
        address = String(line[range])
      }
    }
    let server_ = try #require(address, "\(lines.seen)")
    // It loaded the bundled model and says so, with its size and how long loading took.
    #expect(
      lines.seen.contains {
        $0.contains("model loaded") && $0.contains("models/tutor") && $0.contains("ms=")
      },
      "\(lines.seen)"
    )
    // With the encoder that the test command fetched, retrieval is hybrid, and the snippets'
    // embeddings were cached in the data directory.
    #expect(lines.seen.contains { $0.contains("sentence encoder loaded") }, "\(lines.seen)")
    // The data directory was created on first start.
    let database = data.appendingPathComponent("tutor.sqlite").path
    #expect(FileManager.default.fileExists(atPath: database))
    let cached = try FileManager.default.contentsOfDirectory(
      atPath: data.appendingPathComponent("embeddings").path
    )
    #expect(cached.contains { $0.hasSuffix(".embeddings") }, "\(cached)")

    let token = try ServeCLITests.token(database: database, role: "admin")
    let start = try TutorCLI.run([
      "session", "start", "--server", server_, "--token", token, "--student", "ana", "--curriculum",
      "photosynthesis",
    ])
    #expect(start.status == 0, "\(start.stderr)")
    let session = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let ask = try TutorCLI.run([
      "session", "ask", "--server", server_, "--token", token, session, "Why are leaves green?",
      "--max-new-tokens", "40",
    ])
    #expect(ask.status == 0, "\(ask.stderr)")
    // An answer in words, from the lesson's snippets, stopped before a made-up next question.
    let words = ask.stdout.split(whereSeparator: { !$0.isLetter }).filter { $0.count > 1 }
    #expect(words.count >= 3, "\(ask.stdout)")
    #expect(!ask.stdout.contains("Student:"))
    #expect(ask.stderr.contains("photosynthesis/"), "\(ask.stderr)")

    server.terminate()
    server.waitUntilExit()
    #expect(server.terminationStatus == 0)
  }
}
