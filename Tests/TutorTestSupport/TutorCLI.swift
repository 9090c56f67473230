import Foundation

/// The built `tutor` executable, run as other tools run it: arguments, standard input, exit
/// status and both outputs.
public enum TutorCLI {
  /// The built `tutor` binary, next to the test bundle.
  public static var executable: URL {
    var dir = Bundle.main.bundleURL
    if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
    return dir.appendingPathComponent("tutor")
  }

  public struct Output: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
  }

  public static let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "tutor-cli-data"
  )
  .path

  public static func run(_ arguments: [String], stdin: String? = nil) throws -> Output {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    // Defaults that write (the embedding cache) go to the temporary directory, not the home.
    process.environment = ProcessInfo.processInfo.environment.merging(["TUTOR_DATA_DIR": dataDirectory]) {
      a,
      _ in a
    }
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Output(
      status: process.terminationStatus,
      stdout: String(decoding: o, as: UTF8.self),
      stderr: String(decoding: e, as: UTF8.self)
    )
  }
}
