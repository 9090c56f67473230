import Foundation
import GRPCCore
import SwiftProtobuf
import Synchronization
import TutorAPI

/// Serving status of the server and each of its services, as `grpc.health.v1.Health` reports it.
/// Watchers get every change; ``shutDown()`` reports NOT_SERVING and ends their streams so that a
/// graceful shutdown is not held up by them.
public final class HealthStatusBoard: Sendable {
  public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

  private struct State {
    var statuses: [String: Status]
    var watchers: [UUID: (service: String, continuation: AsyncStream<Status>.Continuation)] = [:]
    var closed = false
  }

  private let state: Mutex<State>

  /// - Parameter services: fully qualified service names; "" (the whole server) is added.
  public init(services: [String]) {
    var statuses: [String: Status] = ["": .notServing]
    for service in services { statuses[service] = .notServing }
    state = Mutex(State(statuses: statuses))
  }

  /// The status of `service`, or nil when the server has no such service.
  public func status(of service: String) -> Status? { state.withLock { $0.statuses[service] } }

  /// Sets every service (and the server) to `status`.
  public func setAll(_ status: Status) {
    let watchers = state.withLock { s -> [AsyncStream<Status>.Continuation] in
      for key in s.statuses.keys { s.statuses[key] = status }
      // Watchers of services the server does not have stay at SERVICE_UNKNOWN.
      return s.watchers.values.filter { s.statuses[$0.service] != nil }.map(\.continuation)
    }
    for watcher in watchers { watcher.yield(status) }
  }

  /// Reports NOT_SERVING and ends every watch stream.
  public func shutDown() {
    setAll(.notServing)
    let watchers = state.withLock { s -> [AsyncStream<Status>.Continuation] in
      s.closed = true
      defer { s.watchers.removeAll() }
      return s.watchers.values.map(\.continuation)
    }
    for watcher in watchers { watcher.finish() }
  }

  /// The current status of `service` (SERVICE_UNKNOWN when there is none), then every change.
  func watch(_ service: String) -> AsyncStream<Status> {
    let (stream, continuation) = AsyncStream.makeStream(of: Status.self, bufferingPolicy: .bufferingNewest(8))
    let id = UUID()
    let (current, closed) = state.withLock { s -> (Status, Bool) in
      if !s.closed { s.watchers[id] = (service, continuation) }
      return (s.statuses[service] ?? .serviceUnknown, s.closed)
    }
    continuation.yield(current)
    if closed { continuation.finish() }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
    }
    return stream
  }
}

/// `grpc.health.v1.Health`, implemented from its public proto (grpc-swift 2 ships none).
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  let board: HealthStatusBoard

  func check(
    request: Grpc_Health_V1_HealthCheckRequest,
    context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard let status = board.status(of: request.service) else {
      throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
    }
    return .with { $0.status = status }
  }

  func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    var last: Grpc_Health_V1_HealthCheckResponse.ServingStatus?
    for await status in board.watch(request.service) where status != last {
      try await response.write(.with { $0.status = status })
      last = status
    }
  }
}
