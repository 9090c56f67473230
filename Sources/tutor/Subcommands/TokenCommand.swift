import ArgumentParser
import Foundation
import TutorStore
import Tutoring

extension Role: ExpressibleByArgument {}

/// `tutor token …`: access tokens, managed in the database directly (so the first admin token
/// can be made before any server runs; a running server sees changes at its next call).
struct TokenCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "token",
    abstract: "Create, list and revoke access tokens.",
    subcommands: [Create.self, List.self, Revoke.self]
  )

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Create a token; prints it once (only a hash is stored).",
      discussion: """
        Roles: student (with --student: their own sessions and progress), teacher (sessions and
        progress in the --curriculum curricula, all without; validate and reload curricula),
        author (curricula and the raw model), analyst (exports, progress), admin (everything).
        """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "student, teacher, author, analyst or admin.") var role: Role
    @Option(help: "The student a student token acts for.") var student: String?
    @Option(name: .customLong("curriculum"), help: "A curriculum a teacher or author token covers (repeat).")
    var curricula: [String] = []
    @Option(help: "A note: who or what the token is for.") var label = ""
    @Flag(help: "Print the token and its record as JSON.") var json = false

    func run() async throws {
      let store = try await database.open(create: true)
      defer { try? store.close() }
      let created: (token: String, record: StoredToken)
      do {
        created = try await AccessTokens(store: store).create(
          role: role,
          studentId: student,
          curricula: curricula,
          label: label
        )
      } catch let error as TutoringError {
        throw ValidationError("\(error)")
      }
      if json {
        var object = TokenCommand.json(created.record)
        object["token"] = created.token
        try Console.writeJSON(object)
      } else {
        Console.write(created.token + "\n")
        Console.error("token \(created.record.id) (\(role.rawValue)) created; it is shown only now")
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List tokens (ids and roles, never secrets).")
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Include revoked tokens.") var all = false
    @Flag(help: "Print a JSON array.") var json = false

    func run() async throws {
      let store = try await database.open()
      defer { try? store.close() }
      let tokens = try await store.tokens(includeRevoked: all)
      if json {
        Console.write(try TokenCommand.encode(tokens.map(TokenCommand.json)) + "\n")
        return
      }
      for token in tokens {
        var line = "\(token.id)  \(token.role.padding(toLength: 7, withPad: " ", startingAt: 0))"
        if let student = token.studentId { line += "  student=\(student)" }
        if !token.curricula.isEmpty { line += "  curricula=\(token.curricula.joined(separator: ","))" }
        if !token.label.isEmpty { line += "  \"\(token.label)\"" }
        if token.revokedAtMs != nil { line += "  (revoked)" }
        Console.write(line + "\n")
      }
    }
  }

  struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke a token: calls with it fail at once.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The token's id (tutor token list).") var id: String

    func run() async throws {
      let store = try await database.open()
      defer { try? store.close() }
      guard try await store.revokeToken(id: id) else {
        throw ValidationError("no active token '\(id)'")
      }
      Console.error("token \(id) revoked")
    }
  }

  static func json(_ token: StoredToken) -> [String: Any] {
    var object: [String: Any] = [
      "id": token.id, "role": token.role, "curricula": token.curricula, "label": token.label,
      "created_at": ISO8601DateFormatter().string(from: Date(millisecondsSince1970: token.createdAtMs)),
    ]
    if let student = token.studentId { object["student_id"] = student }
    if let revoked = token.revokedAtMs {
      object["revoked_at"] = ISO8601DateFormatter().string(from: Date(millisecondsSince1970: revoked))
    }
    return object
  }

  static func encode(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
  }
}

/// `tutor student delete`: a privacy request, on the database directly.
struct StudentCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "student",
    abstract: "Act on one student's data.",
    subcommands: [Delete.self]
  )

  struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Delete everything stored about a student and say what was removed.",
      discussion: "The DeleteStudentData RPC (admin tokens) does the same on a running server."
    )
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The student's id.") var id: String
    @Flag(help: "Print what was removed as JSON.") var json = false

    func run() async throws {
      let store = try await database.open()
      defer { try? store.close() }
      let report = try await store.deleteStudentData(studentId: id)
      guard report.found else { throw ValidationError("nothing is stored about student '\(id)'") }
      let counts: KeyValuePairs<String, Int> = [
        "sessions": report.sessions, "turns": report.turns, "attempts": report.attempts,
        "mastery_records": report.masteryRecords, "tokens": report.tokens,
      ]
      if json {
        var object: [String: Any] = ["student_id": id]
        for (key, value) in counts { object[key] = value }
        try Console.writeJSON(object)
      } else {
        Console.write(
          "deleted student \(id): "
            + counts.map { "\($0.value) \($0.key.replacingOccurrences(of: "_", with: " "))" }
            .joined(separator: ", ") + "\n"
        )
      }
    }
  }
}
