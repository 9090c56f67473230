import Foundation
import GRPCCore
import Synchronization
import TutorServer

/// What a load test saw, shared by its simulated students.
final class LoadStats: Sendable {
  enum Acknowledged { case session, turn, completedTurn, attempt }

  struct Counts: Sendable {
    var sessions = 0
    var turns = 0
    var completedTurns = 0
    var attempts = 0
    var tokens = 0
  }

  private struct State {
    var latencies: [String: [Double]] = [:]
    var errors: [String: Int] = [:]
    /// The first message seen for each kind of error.
    var messages: [String: String] = [:]
    var firstToken: [Double] = []
    var acknowledged = Counts()
  }

  private let state = Mutex(State())

  func record(_ rpc: String, elapsed: Duration, error: (any Error)?) {
    state.withLock { s in
      if let error {
        let code = (error as? RPCError)?.code.canonicalName ?? "CLIENT_ERROR"
        s.errors["\(rpc) \(code)", default: 0] += 1
        if s.messages[code] == nil { s.messages[code] = (error as? RPCError)?.message ?? "\(error)" }
      } else {
        s.latencies[rpc, default: []].append(elapsed / .milliseconds(1))
      }
    }
  }

  func recordFirstToken(_ elapsed: Duration) {
    state.withLock { $0.firstToken.append(elapsed / .milliseconds(1)) }
  }

  func acknowledge(_ what: Acknowledged, tokens: Int = 0) {
    state.withLock { s in
      switch what {
      case .session: s.acknowledged.sessions += 1
      case .turn: s.acknowledged.turns += 1
      case .completedTurn:
        s.acknowledged.completedTurns += 1
        s.acknowledged.tokens += tokens
      case .attempt: s.acknowledged.attempts += 1
      }
    }
  }

  var acknowledged: Counts { state.withLock { $0.acknowledged } }

  struct Report {
    var elapsed: Double
    var rows: [(rpc: String, ok: Int, p50: Double, p95: Double, p99: Double)]
    var errors: [(String, Int)]
    var messages: [String: String]
    var firstToken: (p50: Double, p95: Double)?
    var acknowledged: Counts
    var database: [String: Int]?

    /// Errors other than the server's deliberate back-pressure.
    var unexpectedErrors: Int {
      errors.filter { !$0.0.hasSuffix("RESOURCE_EXHAUSTED") }.map(\.1).reduce(0, +)
    }
    var calls: Int { rows.map(\.ok).reduce(0, +) + errors.map(\.1).reduce(0, +) }

    var text: String {
      var out = String(
        format: "%.1f s, %d calls (%.1f/s), %d tokens (%.1f tokens/s)\n",
        elapsed,
        calls,
        Double(calls) / elapsed,
        acknowledged.tokens,
        Double(acknowledged.tokens) / elapsed
      )
      out += "rpc            ok      p50 ms   p95 ms   p99 ms\n"
      for row in rows {
        out +=
          row.rpc.padding(toLength: 12, withPad: " ", startingAt: 0)
          + String(format: "%6d %10.1f %8.1f %8.1f\n", row.ok, row.p50, row.p95, row.p99)
      }
      if let firstToken {
        out += String(
          format: "time to first token: p50 %.1f ms, p95 %.1f ms\n",
          firstToken.p50,
          firstToken.p95
        )
      }
      out +=
        "errors: " + (errors.isEmpty ? "none" : errors.map { "\($0.0) ×\($0.1)" }.joined(separator: ", "))
        + "\n"
      for (code, message) in messages.sorted(by: { $0.key < $1.key }) {
        out += "  \(code), e.g.: \(message)\n"
      }
      out += "unexpected errors (not RESOURCE_EXHAUSTED): \(unexpectedErrors)\n"
      out +=
        "acknowledged: \(acknowledged.sessions) sessions, \(acknowledged.turns) turns "
        + "(\(acknowledged.completedTurns) completed), \(acknowledged.attempts) attempts\n"
      if let database {
        out +=
          "stored: \(database["sessions_stored"] ?? 0) sessions, \(database["turns_stored"] ?? 0) turns "
          + "(\(database["completed_turns_stored"] ?? 0) completed), \(database["attempts_stored"] ?? 0) attempts; "
          + "lost: \(database["lost"] ?? -1)\n"
      }
      return out
    }

    var json: [String: Any] {
      var object: [String: Any] = [
        "elapsed_seconds": elapsed, "calls": calls, "tokens": acknowledged.tokens,
        "rpcs": rows.map {
          ["rpc": $0.rpc, "ok": $0.ok, "p50_ms": $0.p50, "p95_ms": $0.p95, "p99_ms": $0.p99]
        },
        "errors": Dictionary(uniqueKeysWithValues: errors), "unexpected_errors": unexpectedErrors,
        "error_examples": messages,
        "acknowledged": [
          "sessions": acknowledged.sessions, "turns": acknowledged.turns,
          "completed_turns": acknowledged.completedTurns, "attempts": acknowledged.attempts,
        ],
      ]
      if let firstToken { object["first_token_ms"] = ["p50": firstToken.p50, "p95": firstToken.p95] }
      if let database { object["database"] = database }
      return object
    }
  }

  func report(elapsed: Double) -> Report {
    state.withLock { s in
      Report(
        elapsed: elapsed,
        rows: s.latencies.keys.sorted().map { rpc in
          let values = s.latencies[rpc]!.sorted()
          return (
            rpc, values.count, Self.percentile(values, 0.5), Self.percentile(values, 0.95),
            Self.percentile(values, 0.99)
          )
        },
        errors: s.errors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
        messages: s.messages,
        firstToken: s.firstToken.isEmpty
          ? nil : (Self.percentile(s.firstToken.sorted(), 0.5), Self.percentile(s.firstToken.sorted(), 0.95)),
        acknowledged: s.acknowledged
      )
    }
  }

  /// Nearest-rank percentile of sorted values.
  static func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
  }
}
