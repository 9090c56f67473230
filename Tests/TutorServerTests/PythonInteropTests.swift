import Foundation
import Testing
import TutorServer
import TutorTestSupport

@testable import Tutoring

/// A Python with `grpcio` that can generate stubs — with `grpcio-tools`, or with Debian's `protoc`
/// and `grpc_python_plugin` (what `tools/test.sh` installs): the reference venv (`.venv-ref`),
/// Debian's `/usr/bin/python3`, else `python3` on the PATH. Nil when none can; the interop test is
/// then skipped.
let interopPython: String? = {
  let candidates =
    [Repository.root.appendingPathComponent(".venv-ref/bin/python").path, "/usr/bin/python3"]
    + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
  for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: candidate)
    process.arguments = [
      "-c",
      """
      import grpc, shutil, sys
      try:
          import grpc_tools
      except ImportError:
          sys.exit(0 if shutil.which("protoc") and shutil.which("grpc_python_plugin") else 1)
      """,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { continue }
    process.waitUntilExit()
    if process.terminationStatus == 0 { return candidate }
  }
  return nil
}()

@Suite("Interop with Python grpcio")
struct PythonInteropTests {
  @Test(
    "A Python client with stubs generated from protos/ talks to the server",
    .enabled(if: interopPython != nil, "needs a python3 with grpcio and grpcio-tools")
  )
  func pythonClient() async throws {
    try await withTestServer {
      $0.authentication = .tokens
    } body: { server in
      let token = try await AccessTokens(store: server.server.tutoring.store).create(
        role: .student,
        studentId: "py-student"
      ).token
      let process = Process()
      process.executableURL = URL(fileURLWithPath: interopPython!)
      process.arguments = [
        Repository.root.appendingPathComponent("Tests/TutorServerTests/interop_client.py").path,
        Repository.root.appendingPathComponent("protos").path,
        "127.0.0.1:\(server.port)", token,
      ]
      // The client's output goes to a file, read once it has exited: a pipe read on this process
      // can fail with EINTR when another test's child exits (Foundation does not retry it).
      let log = FileManager.default.temporaryDirectory.appendingPathComponent(
        "interop-\(UUID().uuidString).log"
      )
      try Data().write(to: log)
      defer { try? FileManager.default.removeItem(at: log) }
      let output = try FileHandle(forWritingTo: log)
      process.standardOutput = output
      process.standardError = output
      try process.run()
      // Wait on another thread while the server keeps serving on this one.
      await Task.detached { process.waitUntilExit() }.value
      try output.close()
      let text = String(decoding: try Data(contentsOf: log), as: UTF8.self)
      #expect(process.terminationStatus == 0, "\(text)")
      #expect(text.contains("health: SERVING"))
      #expect(text.hasSuffix("ok\n"), "\(text)")
    }
  }
}
