import Foundation
import Testing
import TutorTestSupport

/// `tutor serve` and the client commands, as separate processes talking gRPC on loopback.
@Suite struct ServeCLITests {
  @Test("serve, health, curriculum list, session start/ask/show/list, errors, then SIGTERM")
  func serveAndClients() async throws {
    let (scratch, model) = try Self.scratchWithModel()

    let database = scratch.appendingPathComponent("data/tutor.sqlite").path
    let (server, address, startLog) = try Self.startServer(model: model, database: database)
    defer { if server.isRunning { server.terminate() } }
    #expect(startLog.seen.contains { $0.contains("tutor token create --role admin") }, "\(startLog.seen)")

    // Health needs no token; everything else does.
    let health = try TutorCLI.run(["health", "--server", address])
    #expect(health.status == 0 && health.stdout == "SERVING\n", "\(health.stderr)")
    let refused = try TutorCLI.run(["curriculum", "list", "--server", address])
    #expect(refused.status == 1 && refused.stderr.contains("UNAUTHENTICATED"), "\(refused.stderr)")
    // A token made while the server runs works at once.
    let token = try Self.token(database: database, role: "admin")

    let list = try TutorCLI.run(["curriculum", "list", "--server", address, "--token", token])
    #expect(list.status == 0)
    #expect(
      list.stdout.split(separator: "\n").map { $0.split(separator: "\t")[0] } == [
        "fractions-ratios", "photosynthesis", "python-intro",
      ]
    )

    let start = try TutorCLI.run([
      "session", "start", "--server", address, "--token", token, "--student", "cli-student", "--curriculum",
      "python-intro",
    ])
    #expect(start.status == 0, "\(start.stderr)")
    let session = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(session.count == 36)
    // A student token starts sessions for its own student without naming it.
    let kid = try Self.token(database: database, role: "student", extra: ["--student", "cli-kid"])
    let own = try TutorCLI.run([
      "session", "start", "--server", address, "--token", kid, "--curriculum", "photosynthesis",
    ])
    #expect(own.status == 0 && own.stderr.contains("student cli-kid"), "\(own.stderr)")

    let ask = try TutorCLI.run([
      "session", "ask", "--server", address, "--token", token, session, "What is a variable?",
      "--max-new-tokens", "12",
    ])
    #expect(ask.status == 0, "\(ask.stderr)")
    #expect(ask.stderr.contains("answer tokens"))
    #expect(ask.stderr.contains("python-intro/"))
    // The sources follow the answer: lesson › section (snippet id), then the note's first sentence.
    let sources = try #require(ask.stdout.components(separatedBy: "From your lessons:\n").last)
    #expect(sources.hasPrefix("  [1] "), "\(ask.stdout)")
    #expect(sources.contains("(python-intro/"))
    #expect(sources.contains(" › "))

    let show = try TutorCLI.run(["session", "show", "--server", address, "--token", token, session, "--json"])
    #expect(show.status == 0)
    let shown = try CLITests.json(show.stdout)
    let turns = try #require(shown["turns"] as? [[String: Any]])
    #expect(turns.count == 1)
    #expect(turns.first?["question"] as? String == "What is a variable?")
    #expect(turns.first?["status"] as? String == "STATUS_COMPLETED")
    // The streamed text is the stored answer; the sources follow it.
    #expect(ask.stdout.hasPrefix((turns.first?["answer"] as? String ?? "-") + "\n\nFrom your lessons:\n"))
    #expect((turns.first?["citations"] as? [[String: Any]])?.isEmpty == false, "session show has the sources")

    let listed = try TutorCLI.run([
      "session", "list", "--server", address, "--token", token, "--student", "cli-student",
    ])
    #expect(listed.stdout.hasPrefix(session + "\t"))

    let missing = try TutorCLI.run([
      "session", "show", "--server", address, "--token", token, "no-such-session",
    ])
    #expect(missing.status == 1)
    #expect(missing.stderr == "error: \(address): NOT_FOUND: no session 'no-such-session'\n")

    // SIGTERM: graceful shutdown, exit status 0.
    server.terminate()
    server.waitUntilExit()
    #expect(server.terminationStatus == 0)
    let down = try TutorCLI.run(["health", "--server", address, "--timeout", "5"])
    #expect(down.status == 1)
    #expect(down.stderr.contains("UNAVAILABLE"))
  }
}

extension ServeCLITests {
  /// A scratch folder with a random 2-layer GPT-Neo (GPT-2 vocabulary, 2,048 context) made by
  /// `tutor random-model`.
  static func scratchWithModel() throws -> (URL, String) {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tutor-cli-\(UUID().uuidString)"
    )
    let model = scratch.appendingPathComponent("model").path
    let made = try TutorCLI.run([
      "random-model", "--out", model, "--tokenizer", CLITests.model, "--context", "2048", "--hidden", "64",
    ])
    guard made.status == 0 else { throw CLIFailure(message: "random-model failed: \(made.stderr)") }
    return (scratch, model)
  }

  /// `tutor token create`: a new token in `database`.
  static func token(database: String, role: String, extra: [String] = []) throws -> String {
    let made = try TutorCLI.run(["token", "create", "--db", database, "--role", role] + extra)
    guard made.status == 0 else { throw CLIFailure(message: "token create failed: \(made.stderr)") }
    return made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Starts `tutor serve --port 0` and reads its log until it says where it listens.
  static func startServer(
    model: String,
    database: String,
    curricula: String = CLITests.repository.appendingPathComponent("curricula").path,
    extra: [String] = []
  ) throws -> (Process, String, LineReader) {
    let server = Process()
    server.executableURL = TutorCLI.executable
    server.arguments =
      [
        "serve", "--model", model, "--curricula", curricula, "--db", database, "--port", "0", "--threads",
        "1",
      ] + extra
    let log = Pipe()
    server.standardError = log
    server.standardOutput = FileHandle.nullDevice
    try server.run()
    // "... address=127.0.0.1:PORT [TutorServer] serving"
    let lines = LineReader(log.fileHandleForReading)
    while let line = lines.next() {
      lines.seen.append(line)
      if line.hasSuffix("serving"),
        let range = line.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression)
      {
        return (server, String(line[range]), lines)
      }
    }
    server.terminate()
    throw CLIFailure(message: "the server never logged its address:\n" + lines.seen.joined(separator: "\n"))
  }
}

struct CLIFailure: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}

extension ServeCLITests {
  @Test("A server killed mid-answer marks the turn interrupted when it starts again; nothing else is lost")
  func crashMidAnswer() async throws {
    let (scratch, model) = try Self.scratchWithModel()
    let database = scratch.appendingPathComponent("tutor.sqlite").path
    let token = try Self.token(database: database, role: "admin")
    let (server, address, _) = try Self.startServer(model: model, database: database)
    defer { if server.isRunning { server.terminate() } }
    let start = try TutorCLI.run([
      "session", "start", "--server", address, "--token", token, "--student", "crash-student", "--curriculum",
      "photosynthesis",
    ])
    let session = start.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let done = try TutorCLI.run([
      "session", "ask", "--server", address, "--token", token, session, "What is light?", "--max-new-tokens",
      "8",
    ])
    #expect(done.status == 0, "\(done.stderr)")

    // A long answer; kill -9 the server as soon as the first text arrives.
    let ask = Process()
    ask.executableURL = TutorCLI.executable
    ask.arguments = [
      "session", "ask", "--server", address, "--token", token, session, "Tell me everything about leaves.",
      "--max-new-tokens", "1000", "--temperature", "1", "--seed", "5",
    ]
    let out = Pipe()
    ask.standardOutput = out
    ask.standardError = FileHandle.nullDevice
    try ask.run()
    #expect(!out.fileHandleForReading.availableData.isEmpty)
    kill(server.processIdentifier, SIGKILL)
    server.waitUntilExit()
    ask.waitUntilExit()
    #expect(ask.terminationStatus == 1, "the client sees the connection drop")

    let (restarted, newAddress, log) = try Self.startServer(model: model, database: database)
    defer { if restarted.isRunning { restarted.terminate() } }
    #expect(log.seen.contains { $0.contains("interrupted") && $0.contains("count=1") }, "\(log.seen)")
    let show = try TutorCLI.run([
      "session", "show", "--server", newAddress, "--token", token, session, "--json",
    ])
    let turns = try #require(try CLITests.json(show.stdout)["turns"] as? [[String: Any]])
    #expect(
      turns.map { $0["question"] as? String } == ["What is light?", "Tell me everything about leaves."]
    )
    #expect(turns.map { $0["status"] as? String } == ["STATUS_COMPLETED", "STATUS_INTERRUPTED"])
    restarted.terminate()
    restarted.waitUntilExit()
  }
}

/// Reads lines from a pipe as they arrive.
final class LineReader {
  let handle: FileHandle
  var buffer = Data()
  var seen: [String] = []

  init(_ handle: FileHandle) { self.handle = handle }

  func next() -> String? {
    while true {
      if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        let line = String(decoding: buffer[..<newline], as: UTF8.self)
        buffer.removeSubrange(...newline)
        return line
      }
      let chunk = handle.availableData
      if chunk.isEmpty { return nil }
      buffer.append(chunk)
    }
  }
}
