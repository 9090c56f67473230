import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Prometheus
import ServiceLifecycle
import SwiftProtobuf
import Synchronization
import TutorAPI
import Tutoring

/// How to run a ``GRPCTutorServer``: the core's configuration (model, curricula, encoder,
/// database, threads, limits — reachable as `configuration.threads` and so on), then the server's
/// own settings.
@dynamicMemberLookup
public struct TutorServerConfiguration: Sendable {
  /// What ``TutoringService/open(_:logger:)`` assembles the core from.
  public var core: TutoringService.Configuration
  public var host = "127.0.0.1"
  /// 0 picks a free port (see ``GRPCTutorServer/port()``).
  public var port = 50051
  /// PEM certificate chain and private key: serve TLS instead of plaintext.
  public var tlsCertificatePath: String?
  public var tlsKeyPath: String?
  /// Largest request message accepted (curriculum validation uploads are the big ones).
  public var maxRequestBytes = 16 << 20
  /// Pseudonym secret and home page of analytics exports.
  public var exports = ExportSettings()
  /// Bearer tokens from the database (the default), or none at all for local demos.
  public var authentication = Authentication.tokens
  /// How long calls in progress may run on after a graceful shutdown begins; then they are
  /// cancelled (their turns are stored as cancelled) and ``GRPCTutorServer/serve()`` returns.
  public var shutdownGracePeriod: Duration = .seconds(30)
  /// Where Prometheus scrapes `GET /metrics` (plain HTTP), and the registry the process's
  /// swift-metrics backend writes to; nil: no metrics endpoint.
  public var metrics: MetricsSettings?
  /// Calls a second per caller (student, else token) and the burst allowed; nil: no limit.
  public var rateLimit: (perSecond: Double, burst: Double)? = (perSecond: 10, burst: 40)

  public enum Authentication: Sendable {
    /// Every call but health needs `authorization: Bearer <token>` (see `tutor token create`).
    case tokens
    /// No checks: every caller is an admin. Local demos only.
    case insecureNoAuth
  }

  public init(modelDirectory: URL, curriculaDirectory: String, database: DatabaseLocation) {
    core = .init(modelDirectory: modelDirectory, curriculaDirectory: curriculaDirectory, database: database)
  }

  public subscript<T>(dynamicMember keyPath: WritableKeyPath<TutoringService.Configuration, T>) -> T {
    get { core[keyPath: keyPath] }
    set { core[keyPath: keyPath] = newValue }
  }
}

/// The metrics endpoint's address and the registry it serves. Bootstrap swift-metrics with a
/// `PrometheusMetricsFactory(registry:)` on the same registry (once per process).
public struct MetricsSettings: Sendable {
  public var host: String
  /// 0 picks a free port (see ``GRPCTutorServer/metricsPort()``).
  public var port: Int
  public var registry: PrometheusCollectorRegistry

  public init(host: String = "127.0.0.1", port: Int, registry: PrometheusCollectorRegistry) {
    self.host = host
    self.port = port
    self.registry = registry
  }
}

/// The tutoring server: `tutor.v1` services and `grpc.health.v1.Health` over gRPC (HTTP/2 on TCP).
///
/// ```swift
/// let server = try await GRPCTutorServer.load(configuration)   // store, curricula, model
/// async let serving: Void = server.serve()
/// print(try await server.port())
/// server.beginGracefulShutdown()
/// ```
public final class GRPCTutorServer: Sendable {
  public let tutoring: TutoringService
  public let health: HealthStatusBoard
  public let configuration: TutorServerConfiguration
  private let grpc: GRPCServer<HTTP2ServerTransport.Posix>
  private let logger: Logger
  private let metricsEndpoint = Mutex<MetricsEndpoint?>(nil)
  /// Signals ``beginGracefulShutdown()`` to the grace-period timer in ``serve()``.
  private let shutdownRequests = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

  /// Opens the core (``TutoringService/open(_:logger:)``: the database, the curricula, the
  /// encoder and the model) and prepares the services.
  public static func load(
    _ configuration: TutorServerConfiguration,
    logger: Logger = Logger(label: "tutor.server")
  ) async throws -> GRPCTutorServer {
    let tutoring = try await TutoringService.open(configuration.core, logger: logger)
    switch configuration.authentication {
    case .insecureNoAuth:
      logger.critical(
        "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this port can read and delete every student's data. Use it for local demos only."
      )
    case .tokens:
      if try await tutoring.activeTokenCount() == 0 {
        logger.warning(
          "no access tokens yet: every call will be refused as UNAUTHENTICATED. Create the first admin token with: tutor token create --role admin --db \(configuration.database)"
        )
      }
    }
    return try GRPCTutorServer(configuration: configuration, tutoring: tutoring, logger: logger)
  }

  init(configuration: TutorServerConfiguration, tutoring: TutoringService, logger: Logger) throws {
    self.configuration = configuration
    self.tutoring = tutoring
    self.logger = logger
    let services: [any RegistrableRPCService] = [
      TutorServiceHandler(tutoring: tutoring, logger: logger),
      CurriculumServiceHandler(tutoring: tutoring, logger: logger),
      AnalyticsServiceHandler(tutoring: tutoring, exports: configuration.exports, logger: logger),
      ModelServiceHandler(tutoring: tutoring, logger: logger),
      AdminServiceHandler(tutoring: tutoring, logger: logger),
    ]
    health = HealthStatusBoard(services: [
      Tutor_V1_TutorService.descriptor.fullyQualifiedService,
      Tutor_V1_CurriculumService.descriptor.fullyQualifiedService,
      Tutor_V1_AnalyticsService.descriptor.fullyQualifiedService,
      Tutor_V1_ModelService.descriptor.fullyQualifiedService,
      Tutor_V1_AdminService.descriptor.fullyQualifiedService,
    ])
    let security: HTTP2ServerTransport.Posix.TransportSecurity
    switch (configuration.tlsCertificatePath, configuration.tlsKeyPath) {
    case (nil, nil):
      security = .plaintext
    case (let certificate?, let key?):
      security = .tls(
        certificateChain: [.file(path: certificate, format: .pem)],
        privateKey: .file(path: key, format: .pem)
      )
    default:
      throw TutoringError.invalidArgument("TLS needs both a certificate chain and a private key")
    }
    let transport = HTTP2ServerTransport.Posix(
      address: .ipv4(host: configuration.host, port: configuration.port),
      transportSecurity: security,
      config: .defaults { $0.rpc.maxRequestPayloadSize = configuration.maxRequestBytes }
    )
    let tokens: AccessTokens? =
      switch configuration.authentication {
      case .tokens: tutoring.accessTokens
      case .insecureNoAuth: nil
      }
    grpc = GRPCServer(
      transport: transport,
      services: services + [HealthService(board: health)],
      interceptors: [
        ObservabilityInterceptor(logger: logger),
        AuthenticationInterceptor(
          tokens: tokens,
          limiter: configuration.rateLimit.map { RateLimiter(perSecond: $0.perSecond, burst: $0.burst) },
          logger: logger
        ),
      ]
    )
  }

  /// Serves until ``beginGracefulShutdown()``; health turns SERVING once the port is bound.
  /// When it returns, the calls in progress have finished and the engine is stopped.
  public func serve() async throws {
    defer { tutoring.shutdown() }
    var endpoint: MetricsEndpoint?
    if let metrics = configuration.metrics {
      let started = try await MetricsEndpoint.start(
        host: metrics.host,
        port: metrics.port,
        registry: metrics.registry
      )
      endpoint = started
      metricsEndpoint.withLock { $0 = started }
      logger.info("metrics", metadata: ["address": "http://\(metrics.host):\(started.port)/metrics"])
    }
    await tutoring.reportActiveSessions()
    do {
      try await serveGRPC()
    } catch {
      await endpoint?.close()
      throw error
    }
    await endpoint?.close()
    await tutoring.releaseLease()
  }

  private enum Event { case stopped, ready, graceElapsed, graceCancelled, maintenanceEnded }

  private func serveGRPC() async throws {
    try await withThrowingTaskGroup(of: Event.self) { group in
      group.addTask {
        do {
          try await self.grpc.serve()
        } catch  where Task.isCancelled {
          // Cut short at the end of the grace period: that is the expected way to stop.
        }
        return .stopped
      }
      group.addTask {
        let port = try await self.port()
        self.health.setAll(.serving)
        self.logger.info("serving", metadata: ["address": "\(self.configuration.host):\(port)"])
        return .ready
      }
      group.addTask {
        await self.tutoring.maintain(
          leaseDuration: self.configuration.leaseDuration,
          retention: self.configuration.retention
        )
        return .maintenanceEnded
      }
      group.addTask {
        for await _ in self.shutdownRequests.stream { break }
        do {
          try await Task.sleep(for: self.configuration.shutdownGracePeriod)
          return .graceElapsed
        } catch {
          return .graceCancelled
        }
      }
      while let event = try await group.next() {
        switch event {
        case .stopped:
          group.cancelAll()
          return
        case .graceElapsed:
          // Calls still running after the grace period are cancelled: serving stops now.
          logger.warning(
            "grace period over: cancelling the calls still in progress",
            metadata: ["grace": "\(configuration.shutdownGracePeriod)"]
          )
          group.cancelAll()
        case .ready, .graceCancelled, .maintenanceEnded:
          continue
        }
      }
    }
  }

  /// The metrics endpoint's port, once ``serve()`` has bound it (nil before, or without metrics).
  public func metricsPort() -> Int? { metricsEndpoint.withLock { $0?.port } }

  /// The swift-log metadata provider that adds the request id to every log line written while
  /// serving a call; pass it to `LoggingSystem.bootstrap(_:metadataProvider:)`.
  public static let loggingMetadata = Logger.MetadataProvider {
    RequestContext.id.map { ["request": "\($0)"] } ?? [:]
  }

  /// The bound port (waits until the server listens).
  public func port() async throws -> Int {
    let address = try await grpc.transport.listeningAddress
    guard let port = address.ipv4?.port ?? address.ipv6?.port else {
      throw TutoringError.internalError("the server listens on \(address), not a TCP port")
    }
    return port
  }

  /// Stops accepting calls, lets running ones finish (for up to the configuration's
  /// `shutdownGracePeriod`), then ``serve()`` returns.
  public func beginGracefulShutdown() {
    health.shutDown()
    grpc.beginGracefulShutdown()
    shutdownRequests.continuation.yield()
  }
}

/// Runs under swift-service-lifecycle: SIGTERM/SIGINT begin a graceful shutdown.
extension GRPCTutorServer: Service {
  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await serve()
    } onGracefulShutdown: {
      self.logger.info("shutting down: finishing the calls in progress")
      self.beginGracefulShutdown()
    }
  }
}
