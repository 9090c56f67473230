import Foundation
import GRPCCore
import Logging
import Tutoring

/// Authenticates every call from its `authorization: Bearer <token>` metadata, refuses roles the
/// the core's table doesn't allow for the method (``AccessPolicy``), applies the per-caller rate limit, and makes
/// the caller ``Principal/current`` for the handler, streamed responses included.
struct AuthenticationInterceptor: ServerInterceptor {
  /// nil: `--insecure-no-auth`, every call is an admin.
  let tokens: AccessTokens?
  /// Calls per caller (the student, else the token; the peer address without authentication).
  let limiter: RateLimiter?
  let logger: Logger

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    if AccessPolicy.open.contains(context.descriptor.service) { return try await next(request, context) }
    let principal = try await authenticate(request.metadata)
    do {
      try AccessPolicy.authorize(principal, context.descriptor)
    } catch {
      logger.notice(
        "refused: role may not call this method",
        metadata: [
          "method": "\(context.descriptor)", "token": "\(principal.tokenId)", "role": "\(principal.role)",
        ]
      )
      throw error
    }
    if let limiter {
      let key =
        principal.studentId.map { "student:\($0)" }
        ?? (tokens == nil ? "peer:\(context.remotePeer)" : "token:\(principal.tokenId)")
      if let wait = limiter.take(key) {
        let milliseconds = Int((wait * 1000).rounded(.up))
        throw RPCError(
          code: .resourceExhausted,
          message:
            "rate limit: \(limiter.perSecond) calls a second (bursts of \(Int(limiter.burst))) per caller; "
            + "retry in \(milliseconds) ms",
          metadata: ["grpc-retry-pushback-ms": "\(milliseconds)"]
        )
      }
    }
    let response = try await Principal.$current.withValue(principal) { try await next(request, context) }
    // A streaming response's body runs after this returns: it needs the caller too.
    guard case .success(var contents) = response.accepted else { return response }
    let producer = contents.producer
    contents.producer = { writer in
      try await Principal.$current.withValue(principal) { try await producer(writer) }
    }
    return StreamingServerResponse(accepted: .success(contents))
  }

  private func authenticate(_ metadata: Metadata) async throws -> Principal {
    guard let tokens else { return .insecureNoAuth }
    let values = Array(metadata[stringValues: "authorization"])
    guard let header = values.first else {
      throw RPCError(
        code: .unauthenticated,
        message:
          "no token: send metadata 'authorization: Bearer <token>' (an admin makes one with tutor token create)"
      )
    }
    guard values.count == 1, header.count > 7, header.prefix(7).lowercased() == "bearer " else {
      throw RPCError(code: .unauthenticated, message: "authorization metadata must be one 'Bearer <token>'")
    }
    let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    let found: Principal?
    do {
      found = try await tokens.authenticate(token)
    } catch {
      logger.error("cannot check a token", metadata: ["error": "\(error)"])
      throw RPCError(code: .unavailable, message: "cannot check the token now; try again")
    }
    guard let principal = found else {
      throw RPCError(
        code: .unauthenticated,
        message: "the token is not valid (unknown, revoked or malformed)"
      )
    }
    return principal
  }
}
