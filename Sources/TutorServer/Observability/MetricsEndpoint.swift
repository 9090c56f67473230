import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// `GET /metrics` in Prometheus's text format, on a plain-HTTP port of its own (so a scraper
/// needs neither gRPC nor a token). Everything else gets 404, or 405 for other methods.
final class MetricsEndpoint: Sendable {
  private let channel: any Channel

  /// The bound port (useful when asked for port 0).
  var port: Int { channel.localAddress?.port ?? 0 }

  private init(channel: any Channel) { self.channel = channel }

  static func start(
    host: String,
    port: Int,
    registry: PrometheusCollectorRegistry
  ) async throws -> MetricsEndpoint {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline()
          try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry))
        }
      }
      .bind(host: host, port: port)
      .get()
    return MetricsEndpoint(channel: channel)
  }

  func close() async {
    try? await channel.close()
  }
}

/// Answers each request once it has fully arrived, then closes the connection.
private final class MetricsHTTPHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let registry: PrometheusCollectorRegistry
  private var head: HTTPRequestHead?

  init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head): self.head = head
    case .body: break
    case .end:
      guard let head else { return }
      self.head = nil
      let status: HTTPResponseStatus
      let body: [UInt8]
      var contentType = "text/plain; charset=utf-8"
      if head.uri.split(separator: "?").first != "/metrics" {
        (status, body) = (.notFound, Array("not found: try /metrics\n".utf8))
      } else if head.method != .GET && head.method != .HEAD {
        (status, body) = (.methodNotAllowed, Array("GET /metrics\n".utf8))
      } else {
        (status, body) = (.ok, registry.emitToBuffer())
        contentType = "text/plain; version=0.0.4; charset=utf-8"
      }
      var headers = HTTPHeaders()
      headers.add(name: "content-type", value: contentType)
      headers.add(name: "content-length", value: "\(body.count)")
      headers.add(name: "connection", value: "close")
      context.write(
        wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
        promise: nil
      )
      if head.method != .HEAD {
        context.write(
          wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
          promise: nil
        )
      }
      let channel = context.channel
      context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
  }
}
