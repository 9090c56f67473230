import Foundation
import GRPCCore
import Metrics
import Prometheus
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The process's swift-metrics backend, bootstrapped once for all tests (swift-metrics allows
/// one bootstrap per process). Other suites' servers write to it too, so tests compare counts
/// before and after rather than absolute values.
enum TestMetrics {
  static let registry: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
  }()
}

@Suite("Prometheus metrics and request ids")
struct MetricsTests {
  /// `GET http://127.0.0.1:PORT/PATH` → (status, body).
  static func get(_ port: Int, _ path: String) async throws -> (Int, String) {
    let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
    let (data, response) = try await URLSession.shared.data(from: url)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
  }

  /// The value of the sample whose line starts with `prefix` (name and labels), or 0.
  static func sample(_ text: String, _ prefix: String) -> Double {
    text.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }
      .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
  }

  @Test("RPCs by method and status, generation and database timings, on the metrics port")
  func metricsEndpointCountsWhatHappened() async throws {
    let registry = TestMetrics.registry
    try await withTestServer {
      $0.metrics = MetricsSettings(port: 0, registry: registry)
    } body: { server in
      let port = try #require(server.server.metricsPort())
      let notFound =
        #"tutor_rpc_requests_total{method="tutor.v1.CurriculumService/GetCurriculum",code="NOT_FOUND"}"#
      let (_, before) = try await Self.get(port, "/metrics")
      var requestId: String?
      try await server.withClient { client in
        let curriculum = Tutor_V1_CurriculumService.Client(wrapping: client)
        for _ in 0 ..< 2 {
          do {
            _ = try await curriculum.getCurriculum(.with { $0.curriculumID = "no-such" })
          } catch let error as RPCError {
            requestId = Array(error.metadata[stringValues: "tutor-request-id"]).first
          }
        }
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "metrics-student"
            $0.curriculumID = "photosynthesis"
          }
        )
        _ = try await tutor.askAll(
          .with {
            $0.sessionID = session.sessionID
            $0.question = "Why are leaves green?"
            $0.options.maxNewTokens = 4
          }
        )
      }
      let (status, after) = try await Self.get(port, "/metrics")
      #expect(status == 200)
      #expect(
        Self.sample(after, notFound) >= Self.sample(before, notFound) + 2,
        "\(after.split(separator: "\n").filter { $0.hasPrefix("tutor_rpc_requests") })"
      )
      #expect(requestId?.count == 16, "errors carry the request id")
      for name in [
        "tutor_rpc_duration_seconds_bucket", "tutor_generated_tokens_total",
        "tutor_time_to_first_token_seconds_count",
        "tutor_generation_queue_wait_seconds_count", "tutor_generation_queue_depth",
        "tutor_generations_running",
        "tutor_active_sessions", "tutor_db_write_seconds_count",
      ] {
        #expect(after.contains("\n" + name), "\(name) missing")
      }
      #expect(Self.sample(after, "tutor_generated_tokens_total") >= 4)
      #expect(after.contains(#"tutor_db_write_seconds_count{operation="beginTurn"}"#))
      let (missing, _) = try await Self.get(port, "/nope")
      #expect(missing == 404)
    }
  }
}
