import Foundation
import Testing
import TutorStore
import TutorTestSupport

/// kill -9 in the middle of many students' questions and answers: after a restart, everything the
/// server acknowledged is stored, cut-off turns are marked interrupted, the database is sound.
@Suite struct CrashSafetyTests {
  /// With PostgreSQL, the restarted server finds the dead one's lease still fresh: the turns are
  /// marked once it expires (a short lease here).
  static let lease = ["--lease-seconds", "2"]

  @Test(arguments: TestDatabase.engines)
  func killNineUnderLoadLosesNothingAcknowledged(engine: TestDatabase.Engine) async throws {
    let (scratch, model) = try ServeCLITests.scratchWithModel()
    defer { try? FileManager.default.removeItem(at: scratch) }
    let testDatabase = try await TestDatabase.make(engine)
    let database = testDatabase.argument
    let admin = try ServeCLITests.token(database: database, role: "admin")
    let (server, address, _) = try ServeCLITests.startServer(
      model: model,
      database: database,
      extra: Self.lease
    )
    defer { if server.isRunning { server.terminate() } }

    // Eight students asking (long answers, so many are mid-stream) and answering exercises; every
    // acknowledgement is appended to the record file the moment it arrives.
    let record = scratch.appendingPathComponent("acknowledged.txt").path
    let load = Process()
    load.executableURL = TutorCLI.executable
    load.arguments = [
      // Longer than the wait below, so that answers are still being generated when the kill comes
      // even on a slow, busy machine (the load test is stopped right after it).
      "loadtest", "--server", address, "--token", admin, "--students", "8", "--duration", "300",
      "--max-new-tokens", "120", "--think-ms", "0", "--db", database, "--record", record,
    ]
    load.standardOutput = FileHandle.nullDevice
    load.standardError = FileHandle.nullDevice
    try load.run()
    defer { if load.isRunning { load.terminate() } }
    func acknowledged() -> [Substring] {
      ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n")
    }
    // Wait (up to 60 s) until answers have completed and attempts been acknowledged.
    let waitUntil = Date().addingTimeInterval(60)
    while Date() < waitUntil {
      let lines = acknowledged()
      if lines.filter({ $0.hasPrefix("completed ") }).count >= 3,
        lines.contains(where: { $0.hasPrefix("attempt ") })
      {
        break
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    kill(server.processIdentifier, SIGKILL)
    server.waitUntilExit()
    load.terminate()
    load.waitUntilExit()

    let lines = acknowledged()
    func ids(_ kind: String) -> Set<String> {
      Set(lines.filter { $0.hasPrefix(kind + " ") }.map { String($0.dropFirst(kind.count + 1)) })
    }
    let (turns, completed, attempts, sessions) = (
      ids("turn"), ids("completed"), ids("attempt"), ids("session")
    )
    #expect(completed.count >= 3 && !attempts.isEmpty, "\(lines.count) acknowledgements")

    // Restart: the turns the crash cut off are marked interrupted.
    let (restarted, _, log) = try ServeCLITests.startServer(
      model: model,
      database: database,
      extra: Self.lease
    )
    defer { if restarted.isRunning { restarted.terminate() } }
    let store = try await testDatabase.open()
    #expect(try store.integrityCheck() == "ok")
    if engine == .postgres {
      // Within three leases, the restarted server has marked the dead one's turns.
      func answering() throws -> Int {
        var count = 0
        try store.exportRecords(ExportFilter()) { record in
          if case .turn(let turn, _, _, _) = record, turn.status == .answering { count += 1 }
        }
        return count
      }
      let deadline = Date().addingTimeInterval(8)
      while Date() < deadline, try answering() > 0 { try await Task.sleep(for: .milliseconds(200)) }
    }
    var storedTurns: [String: StoredTurn.Status] = [:]
    var storedAttempts: Set<String> = []
    var storedSessions: Set<String> = []
    try store.exportRecords(ExportFilter()) { record in
      switch record {
      case .turn(let turn, _, _, _):
        storedTurns[turn.id] = turn.status
        storedSessions.insert(turn.sessionId)
      case .attempt(let attempt, _):
        storedAttempts.insert(attempt.id)
        storedSessions.insert(attempt.sessionId)
      }
    }
    for id in sessions where try await store.session(id: id) == nil { Issue.record("session \(id) lost") }
    #expect(turns.subtracting(storedTurns.keys).isEmpty, "acknowledged turns lost")
    #expect(
      completed.allSatisfy { storedTurns[$0] == .completed },
      "completed answers not stored as completed"
    )
    #expect(attempts.subtracting(storedAttempts).isEmpty, "acknowledged attempts lost")
    #expect(!storedTurns.values.contains(.answering), "a turn left answering after the restart")
    let interrupted = storedTurns.values.filter { $0 == .interrupted }.count
    #expect(interrupted > 0, "the kill cut no answer off; the test proved little")
    if engine == .sqlite {
      #expect(
        log.seen.contains { $0.contains("interrupted") && $0.contains("count=\(interrupted)") },
        "\(log.seen)"
      )
    }
    restarted.terminate()
    restarted.waitUntilExit()
  }
}
