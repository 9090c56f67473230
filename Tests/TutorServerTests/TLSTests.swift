import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport

private let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

@Suite("TLS")
struct TLSTests {
  @Test(
    "With --tls-cert/--tls-key the server speaks TLS: a client that trusts the certificate gets through, plaintext does not",
    .enabled(if: openssl != nil, "needs openssl to make a certificate")
  )
  func tlsServer() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let certificate = directory.appendingPathComponent("cert.pem").path
    let key = directory.appendingPathComponent("key.pem").path
    let make = Process()
    make.executableURL = URL(fileURLWithPath: openssl!)
    make.arguments = [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]
    make.standardOutput = FileHandle.nullDevice
    make.standardError = FileHandle.nullDevice
    try make.run()
    make.waitUntilExit()
    #expect(make.terminationStatus == 0)

    try await withTestServer {
      $0.tlsCertificatePath = certificate
      $0.tlsKeyPath = key
    } body: { server in
      let info = try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: "127.0.0.1", port: server.port),
          transportSecurity: .tls { $0.trustRoots = .certificates([.file(path: certificate, format: .pem)]) }
        )
      ) { client in
        try await Tutor_V1_ModelService.Client(wrapping: client).getModelInfo(.init())
      }
      #expect(info.contextLength == 2048)
      // Plaintext gets no answer from a TLS port.
      await #expect(throws: RPCError.self) {
        var options = CallOptions.defaults
        options.timeout = .seconds(5)
        _ = try await server.withClient { client in
          try await Tutor_V1_ModelService.Client(wrapping: client).getModelInfo(.init(), options: options)
        }
      }
    }
  }
}
