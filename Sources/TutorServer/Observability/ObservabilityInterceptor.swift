import Foundation
import GRPCCore
import Logging
import Metrics
import Tutoring

/// The id of the RPC being served, for log lines (see ``GRPCTutorServer/loggingMetadata``) and
/// the `tutor-request-id` trailer a client can quote.
public enum RequestContext {
  @TaskLocal public static var id: String?

  /// 16 hex digits: unique enough to find one call in a day's logs.
  static func newId() -> String {
    String(UInt64.random(in: .min ... .max), radix: 16).leftPadded(to: 16)
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}

/// Gives every call a request id, counts calls by method and status
/// (`tutor_rpc_requests_total{method,code}`), times them (`tutor_rpc_duration_seconds{method}`,
/// streamed responses until their last message) and logs each at debug level. It runs first,
/// so refusals by the access checks are counted too.
struct ObservabilityInterceptor: ServerInterceptor {
  let logger: Logger

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let id = RequestContext.newId()
    let method = context.descriptor.fullyQualifiedMethod
    let start = ContinuousClock.now
    let logger = logger
    @Sendable func finish(_ code: RPCError.Code?) {
      let elapsed = ContinuousClock.now - start
      let name = code?.canonicalName ?? "OK"
      Counter(label: "tutor_rpc_requests_total", dimensions: [("method", method), ("code", name)]).increment()
      Metrics.Timer(label: "tutor_rpc_duration_seconds", dimensions: [("method", method)]).record(
        duration: elapsed
      )
      logger.debug("rpc", metadata: ["method": "\(method)", "code": "\(name)", "duration": "\(elapsed)"])
    }
    @Sendable func tagged(_ error: any Error) -> RPCError {
      var error = Self.status(of: error, method: method, logger: logger)
      error.metadata.replaceOrAddString(id, forKey: "tutor-request-id")
      return error
    }
    return try await RequestContext.$id.withValue(id) {
      let response: StreamingServerResponse<Output>
      do {
        response = try await next(request, context)
      } catch {
        let status = tagged(error)
        finish(status.code)
        throw status
      }
      switch response.accepted {
      case .failure(let error):
        let status = tagged(error)
        finish(status.code)
        return StreamingServerResponse(accepted: .failure(status))
      case .success(var contents):
        let producer = contents.producer
        contents.producer = { writer in
          try await RequestContext.$id.withValue(id) {
            do {
              var trailers = try await producer(writer)
              finish(nil)
              trailers.replaceOrAddString(id, forKey: "tutor-request-id")
              return trailers
            } catch {
              let status = tagged(error)
              finish(status.code)
              throw status
            }
          }
        }
        return StreamingServerResponse(accepted: .success(contents))
      }
    }
  }
}

extension ObservabilityInterceptor {
  /// Every error a call ends with, as the status the client gets. The core's own errors carry
  /// their status (``TutoringError`` is `RPCErrorConvertible`); the core classifies what its
  /// parts throw (a database that takes no writes is UNAVAILABLE); anything else is a bug,
  /// logged here and reported as INTERNAL without internals.
  static func status(of error: any Error, method: String, logger: Logger) -> RPCError {
    if let error = error as? RPCError {
      // An interceptor further in wraps what it doesn't know as UNKNOWN around the original.
      guard error.code == .unknown, let cause = error.cause, !(cause is RPCError) else { return error }
      return status(of: cause, method: method, logger: logger)
    }
    if error is CancellationError { return RPCError(code: .cancelled, message: "the call was cancelled") }
    guard let known = TutoringError(classifying: error) else {
      logger.error("call failed", metadata: ["method": "\(method)", "error": "\(error)"])
      return RPCError(
        code: .internalError,
        message: "internal error in \(method); the server log has the details"
      )
    }
    switch known {
    case .internalError, .unavailable:
      logger.error("call failed", metadata: ["method": "\(method)", "error": "\(error)"])
    default:
      break
    }
    return RPCError(known)
  }
}

extension RPCError.Code {
  /// The status name as gRPC documents it (NOT_FOUND, INVALID_ARGUMENT, …): what metrics label
  /// and the command-line client print.
  public var canonicalName: String {
    var name = ""
    for character in String(describing: self) {
      if character.isUppercase, !name.isEmpty { name += "_" }
      name += character.uppercased()
    }
    return name
  }
}
