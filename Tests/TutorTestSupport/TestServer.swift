import Engine
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftProtobuf
import Synchronization
import TutorAPI
import TutorServer
import Tutoring

/// A small random GPT-Neo with the real GPT-2 vocabulary and a 2,048-token context, written once
/// per test process: real prompts fit, answers are gibberish, and long answers take long enough
/// to be cancelled mid-stream.
public enum TestModel {
  public static let directory: URL = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-test-model-\(getpid())")
    let configuration = GPTNeoConfiguration(
      maxPositionEmbeddings: 2048,
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      windowSize: 64
    )
    try! GPTNeoModel.writeRandomCheckpoint(
      configuration: configuration,
      tokenizerDirectory: Repository.tokenizer,
      seed: 7,
      to: dir
    )
    return dir
  }()

  /// A wider random GPT-Neo (hidden 256) with a 4,096-token context, for the tests that must
  /// interrupt an answer mid-stream (a grace period, a deadline): a 1,000-token answer fits after
  /// any prompt and takes seconds to write, so a busy machine's pauses do not let it finish first.
  public static let slowDirectory: URL = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tutor-test-slow-model-\(getpid())"
    )
    let configuration = GPTNeoConfiguration(
      maxPositionEmbeddings: 4096,
      hiddenSize: 256,
      numLayers: 2,
      numHeads: 4,
      windowSize: 64
    )
    try! GPTNeoModel.writeRandomCheckpoint(
      configuration: configuration,
      tokenizerDirectory: Repository.tokenizer,
      seed: 7,
      to: dir
    )
    return dir
  }()
}

/// A real server on a free loopback port, over a database in a scratch folder.
public struct TestServer: Sendable {
  public let server: GRPCTutorServer
  let task: Task<Void, any Error>
  public let port: Int

  /// A new, empty database for one server: a SQLite file, or, when the run sets
  /// `TUTOR_TEST_SERVER_ENGINE=postgres` (the README's test command runs the server suites a
  /// second time so), a database of its own in the test PostgreSQL cluster.
  public static func scratchDatabase() -> String {
    if ProcessInfo.processInfo.environment["TUTOR_TEST_SERVER_ENGINE"] == "postgres" {
      do {
        let database = try TestDatabase(blocking: .postgres)
        // Kept for the whole run (the cluster is thrown away after it).
        postgresDatabases.withLock { $0.append(database) }
        return database.argument
      } catch {
        fatalError("TUTOR_TEST_SERVER_ENGINE=postgres, but no test database: \(error)")
      }
    }
    return FileManager.default.temporaryDirectory.appendingPathComponent(
      "tutor-test-\(UUID().uuidString)/tutor.sqlite"
    ).path
  }

  private static let postgresDatabases = Mutex<[TestDatabase]>([])

  public static func start(
    database: String = scratchDatabase(),
    curricula: String = Repository.curricula,
    configure: (inout TutorServerConfiguration) -> Void = { _ in }
  ) async throws -> TestServer {
    var configuration = TutorServerConfiguration(
      modelDirectory: TestModel.directory,
      curriculaDirectory: curricula,
      database: try DatabaseLocation(parsing: database)
    )
    configuration.port = 0
    configuration.threads = 1
    // Suites other than AccessTests test what the services do, not who may call them.
    configuration.authentication = .insecureNoAuth
    configuration.rateLimit = nil
    configure(&configuration)
    var logger = Logger(label: "tutor.test")
    logger.logLevel = .critical
    let server = try await GRPCTutorServer.load(configuration, logger: logger)
    let task = Task { try await server.serve() }
    let port = try await server.port()
    return TestServer(server: server, task: task, port: port)
  }

  /// Waits until `serve()` has returned (after a shutdown began elsewhere).
  public func waitUntilStopped() async throws {
    try await task.value
  }

  /// Graceful shutdown; waits until the server has stopped.
  public func stop() async throws {
    server.beginGracefulShutdown()
    try await task.value
  }

  /// Runs `body` with a client connected to the server, then stops the server.
  public func withClient<T: Sendable>(
    _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
  ) async throws -> T {
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: port),
        transportSecurity: .plaintext
      )
    ) { client in
      try await body(client)
    }
  }
}

/// Runs `body` with a gRPC client of the server (or balancer) on a loopback `port`.
public func withLoopbackClient<T: Sendable>(
  port: Int,
  _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
) async throws -> T {
  try await withGRPCClient(
    transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
  ) { client in
    try await body(client)
  }
}

/// Runs `body` with a server started as ``TestServer/start(database:curricula:configure:)``
/// starts one, and stops it afterwards whether `body` returns or throws, so that a failing test
/// leaves no server behind.
public func withTestServer<T: Sendable>(
  database: String = TestServer.scratchDatabase(),
  curricula: String = Repository.curricula,
  configure: (inout TutorServerConfiguration) -> Void = { _ in },
  body: (TestServer) async throws -> T
) async throws -> T {
  let server = try await TestServer.start(database: database, curricula: curricula, configure: configure)
  let result: T
  do {
    result = try await body(server)
  } catch {
    try? await server.stop()
    throw error
  }
  try await server.stop()
  return result
}

/// Everything one Ask stream returned.
public struct AskTranscript: Sendable {
  public var started: Tutor_V1_AskStarted?
  public var deltas: [String] = []
  public var completed: Tutor_V1_AskCompleted?
}

extension Tutor_V1_TutorService.Client {
  public func askAll(
    _ request: Tutor_V1_AskRequest,
    options: CallOptions = .defaults
  ) async throws -> AskTranscript {
    try await ask(request, options: options) { response in
      var transcript = AskTranscript()
      for try await message in response.messages {
        switch message.event {
        case .started(let s): transcript.started = s
        case .delta(let d): transcript.deltas.append(d.text)
        case .completed(let c): transcript.completed = c
        case nil: break
        }
      }
      return transcript
    }
  }
}
