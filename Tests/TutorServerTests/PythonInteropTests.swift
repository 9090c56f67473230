import Foundation
import Testing

/// A Python with `grpcio` and `grpcio-tools`: the reference venv (`.venv-ref`), else `python3` on
/// the PATH. Nil when neither has them; the interop test is then skipped.
let interopPython: String? = {
  let candidates =
    [Repository.root.appendingPathComponent(".venv-ref/bin/python").path, "/usr/bin/python3"]
    + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
  for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: candidate)
    process.arguments = ["-c", "import grpc, grpc_tools"]
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
    let server = try await TestServer.start()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: interopPython!)
    process.arguments = [
      Repository.root.appendingPathComponent("Tests/TutorServerTests/interop_client.py").path,
      Repository.root.appendingPathComponent("protos").path,
      "127.0.0.1:\(server.port)",
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    // Read on another thread while the server keeps serving on this one.
    let text = try await Task.detached {
      String(decoding: try output.fileHandleForReading.readToEnd() ?? Data(), as: UTF8.self)
    }.value
    process.waitUntilExit()
    try await server.stop()
    #expect(process.terminationStatus == 0, "\(text)")
    #expect(text.contains("health: SERVING"))
    #expect(text.hasSuffix("ok\n"), "\(text)")
  }
}
