import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport

/// Request bytes as they are: the fuzzer writes the wire format itself.
struct RawBytes: MessageSerializer, MessageDeserializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
  func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
    bytes.withUnsafeBytes { Array($0) }
  }
}

/// Malformed protobuf and random field values at every RPC: the server answers each with a
/// proper status (never INTERNAL or UNKNOWN) and keeps serving.
@Suite("Fuzzing every RPC with malformed and random messages")
struct FuzzTests {
  /// A seeded generator, so a failure can be replayed.
  struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    mutating func bytes(_ count: Int) -> [UInt8] {
      (0 ..< count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
  }

  static func varint(_ value: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    var v = value
    repeat {
      out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
      v >>= 7
    } while v > 0
    return out
  }

  /// One request body: pure noise, a truncated or lying field, or a well-formed message of random
  /// fields (numbers 1–9, any wire type, values from empty to odd Unicode to huge numbers).
  static func message(_ random: inout Random) -> [UInt8] {
    switch random.below(6) {
    case 0:
      return random.bytes(random.below(64))
    case 1:
      // A length-delimited field that claims more bytes than follow.
      return [0x0A] + varint(UInt64(1000 + random.below(1_000_000))) + random.bytes(random.below(8))
    case 2:
      // An unterminated varint.
      return [0x08] + [UInt8](repeating: 0xFF, count: 1 + random.below(12))
    default:
      var out: [UInt8] = []
      for _ in 0 ..< 1 + random.below(6) {
        let field = UInt64(1 + random.below(9))
        switch random.below(4) {
        case 0:
          let values: [UInt64] = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, .max, UInt64(random.below(3000))]
          out += varint(field << 3) + varint(values[random.below(values.count)])
        case 1:
          let texts = [
            "", "photosynthesis", "a", String(repeating: "x", count: 5000), "🌱\u{0}\u{202E}é",
            "../../etc/passwd",
            "%00", "student-1", "DROP TABLE session;",
          ]
          let text = Array(texts[random.below(texts.count)].utf8)
          out += varint(field << 3 | 2) + varint(UInt64(text.count)) + text
        case 2:
          let nested = random.bytes(random.below(20))
          out += varint(field << 3 | 2) + varint(UInt64(nested.count)) + nested
        default:
          out += varint(field << 3 | 5) + random.bytes(4)
        }
      }
      return out
    }
  }

  static let proper: Set<RPCError.Code> = [
    .invalidArgument, .notFound, .failedPrecondition, .permissionDenied, .resourceExhausted, .outOfRange,
    .unimplemented, .deadlineExceeded,
  ]

  @Test func everyRPCAnswersMalformedAndRandomMessagesWithAProperStatus() async throws {
    try await withTestServer { server in
      let methods =
        Tutor_V1_TutorService.Method.descriptors + Tutor_V1_CurriculumService.Method.descriptors
        + Tutor_V1_ModelService.Method.descriptors + Tutor_V1_AnalyticsService.Method.descriptors
        + Tutor_V1_AdminService.Method.descriptors + Grpc_Health_V1_Health.Method.descriptors
      let streaming: Set<MethodDescriptor> = [
        Tutor_V1_TutorService.Method.Ask.descriptor, Tutor_V1_ModelService.Method.Generate.descriptor,
        Tutor_V1_AnalyticsService.Method.ExportSessions.descriptor,
        Grpc_Health_V1_Health.Method.Watch.descriptor,
      ]
      var random = Random(state: 20_261_129)
      var outcomes: [String: Int] = [:]
      try await server.withClient { client in
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        for method in methods where method != Grpc_Health_V1_Health.Method.Watch.descriptor {
          for _ in 0 ..< 40 {
            let body = Self.message(&random)
            let request = ClientRequest(message: body)
            var code: RPCError.Code?
            do {
              if streaming.contains(method) {
                try await client.serverStreaming(
                  request: request,
                  descriptor: method,
                  serializer: RawBytes(),
                  deserializer: RawBytes(),
                  options: options
                ) { response in for try await _ in response.messages {} }
              } else {
                _ = try await client.unary(
                  request: request,
                  descriptor: method,
                  serializer: RawBytes(),
                  deserializer: RawBytes(),
                  options: options
                ) { try $0.message }
              }
            } catch let error as RPCError {
              code = error.code
              #expect(!error.message.isEmpty, "\(method): \(error.code) without a message")
            }
            outcomes[code?.canonicalName ?? "OK", default: 0] += 1
            if let code, !Self.proper.contains(code) {
              Issue.record("\(method) answered \(body) with \(code)")
            }
          }
        }
        // Still serving.
        let health = try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init())
        #expect(health.status == .serving)
      }
      // The inputs reached both the decoder's refusals and the handlers.
      #expect((outcomes["INVALID_ARGUMENT"] ?? 0) > 100 && (outcomes["OK"] ?? 0) > 10, "\(outcomes)")
    }
  }
}
