import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import TutorServer

/// Where the client commands find the server.
struct ServerOptions: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp("Server address.", valueName: "host:port"))
  var server = "127.0.0.1:50051"

  @Option(name: .long, help: "Seconds before a call gives up (DEADLINE_EXCEEDED).")
  var timeout: Double = 120

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Bearer token (default: $TUTOR_TOKEN; tutor token create makes one).",
      valueName: "token"
    )
  )
  var token: String?

  func validate() throws {
    _ = try target()
    guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
  }

  func target() throws -> (host: String, port: Int) {
    guard let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]),
      (1 ... 65535).contains(port), colon != server.startIndex
    else {
      throw ValidationError("--server must be host:port, got '\(server)'")
    }
    return (String(server[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
  }

  var callOptions: CallOptions {
    var options = CallOptions.defaults
    options.timeout = .milliseconds(Int64(timeout * 1000))
    return options
  }

  /// Connects (plaintext HTTP/2) and runs `body`; a failed call prints `error: CODE: message`
  /// and exits with status 1.
  func withClient<T: Sendable>(
    _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
  ) async throws -> T {
    let (host, port) = try target()
    do {
      let token =
        token ?? ProcessInfo.processInfo.environment["TUTOR_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
      return try await withGRPCClient(
        transport: .http2NIOPosix(target: .dns(host: host, port: port), transportSecurity: .plaintext),
        interceptors: token.map { [BearerToken(token: $0)] } ?? []
      ) { client in
        try await body(client)
      }
    } catch let error as RPCError {
      Console.error("error: \(server): \(error.code.canonicalName): \(error.message)")
      throw ExitCode.failure
    }
  }
}

/// Sends `authorization: Bearer <token>` with every call that doesn't carry its own (the load
/// test's simulated students each send theirs).
struct BearerToken: ClientInterceptor {
  let token: String

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>,
    context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    if Array(request.metadata[stringValues: "authorization"]).isEmpty {
      request.metadata.addString("Bearer \(token)", forKey: "authorization")
    }
    return try await next(request, context)
  }
}
