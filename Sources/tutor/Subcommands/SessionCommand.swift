import ArgumentParser
import Foundation
import GRPCCore
import SwiftProtobuf
import TutorAPI
import Tutoring

/// `tutor session …`: a gRPC client of a running server.
struct SessionCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "session",
    abstract: "Start, ask in, show and list tutoring sessions on a running server.",
    subcommands: [Start.self, Ask.self, Show.self, List.self, End.self]
  )

  struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Start a session; prints its id."
    )
    @OptionGroup var connection: ServerOptions
    @Option(name: .long, help: "Student id (a student token may leave it out: its own).") var student: String?
    @Option(name: .long, help: "Course id.") var curriculum: String
    @Option(name: .long, help: "Lesson id (default: the curriculum's first).") var lesson: String?
    @Flag(name: .long, help: "Print the session as JSON.") var json = false

    func run() async throws {
      let session = try await connection.withClient { client in
        try await Tutor_V1_TutorService.Client(wrapping: client).startSession(
          .with {
            $0.studentID = student ?? ""
            $0.curriculumID = curriculum
            $0.lessonID = lesson ?? ""
          },
          options: connection.callOptions
        )
      }
      if json {
        Console.write(try session.jsonString() + "\n")
      } else {
        Console.write(session.sessionID + "\n")
        Console.error(
          "session started: student \(session.studentID), \(session.curriculumID)/\(session.lessonID)"
        )
      }
    }
  }

  struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Ask a question; the explanation prints as it streams.",
      discussion:
        "The notes the answer was given follow it (lesson, section, first sentence); usage goes to stderr; Ctrl-C cancels the answer (the turn is kept, marked cancelled)."
    )
    @OptionGroup var connection: ServerOptions
    @Argument(help: "Session id.") var session: String
    @Argument(help: "The question.") var question: String
    @Option(name: .long, help: "Most tokens to generate.") var maxNewTokens: Int?
    @Option(name: .long, help: "0: greedy; otherwise sampling temperature.") var temperature: Float?
    @Option(name: .long, help: "Sampling seed.") var seed: UInt64?

    func run() async throws {
      let request = Tutor_V1_AskRequest.with {
        $0.sessionID = session
        $0.question = question
        if let maxNewTokens { $0.options.maxNewTokens = Int32(maxNewTokens) }
        if let temperature { $0.options.temperature = temperature }
        if let seed { $0.options.seed = seed }
      }
      let completed = try await connection.withClient { client in
        try await Tutor_V1_TutorService.Client(wrapping: client).ask(request, options: connection.callOptions)
        {
          response in
          var completed: Tutor_V1_AskCompleted?
          for try await message in response.messages {
            switch message.event {
            case .delta(let delta): Console.write(delta.text)
            case .completed(let c): completed = c
            case .started, nil: break
            }
          }
          return completed
        }
      }
      Console.write("\n")
      if let completed {
        // The notes the answer was given, for the student to read.
        if !completed.citations.isEmpty {
          Console.write("\nFrom your lessons:\n")
          for (n, citation) in completed.citations.enumerated() {
            let lead = NoteSentences.split(citation.text).first ?? citation.text
            Console.write(
              "  [\(n + 1)] \(citation.lessonTitle) › \(citation.heading) (\(citation.snippetID))\n      \(lead)\n"
            )
          }
        }
        Console.error(
          "[\(completed.usage.promptTokens) prompt + \(completed.usage.completionTokens) answer tokens, "
            + "\(completed.finishReason), \(String(format: "%.2f", Double(completed.latency.seconds) + Double(completed.latency.nanos) / 1e9)) s; "
            + "notes: \(completed.snippetIds.joined(separator: ", "))]"
        )
      }
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a session with all its turns.")
    @OptionGroup var connection: ServerOptions
    @Argument(help: "Session id.") var session: String
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
      let found = try await connection.withClient { client in
        try await Tutor_V1_TutorService.Client(wrapping: client).getSession(
          .with { $0.sessionID = session },
          options: connection.callOptions
        )
      }
      if json {
        Console.write(try found.jsonString() + "\n")
        return
      }
      Console.write(
        "session \(found.sessionID) (\(found.state == .active ? "active" : "ended")): student \(found.studentID), "
          + "\(found.curriculumID)/\(found.lessonID), started \(found.createdAt.date.formatted(.iso8601))\n"
      )
      for turn in found.turns {
        Console.write("\n[\(turn.index)] \(turn.status) · \(turn.usage.completionTokens) tokens\n")
        Console.write("Student: \(turn.question)\n")
        Console.write("Tutor: \(turn.answer.trimmingCharacters(in: .whitespacesAndNewlines))\n")
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List sessions of a student or a curriculum, newest first."
    )
    @OptionGroup var connection: ServerOptions
    @Option(name: .long, help: "Student id.") var student: String?
    @Option(name: .long, help: "Course id.") var curriculum: String?
    @Option(name: .long, help: "Sessions per page.") var pageSize: Int = 50
    @Option(name: .long, help: "next_page_token of the previous page.") var pageToken: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func validate() throws {
      guard student != nil || curriculum != nil else {
        throw ValidationError("give --student or --curriculum")
      }
    }

    func run() async throws {
      let page = try await connection.withClient { client in
        try await Tutor_V1_TutorService.Client(wrapping: client).listSessions(
          .with {
            $0.studentID = student ?? ""
            $0.curriculumID = curriculum ?? ""
            $0.pageSize = Int32(pageSize)
            $0.pageToken = pageToken ?? ""
          },
          options: connection.callOptions
        )
      }
      if json {
        Console.write(try page.jsonString() + "\n")
        return
      }
      for s in page.sessions {
        Console.write(
          "\(s.sessionID)\t\(s.studentID)\t\(s.curriculumID)/\(s.lessonID)\t\(s.state == .active ? "active" : "ended")\t"
            + "\(s.turnCount) turns\t\(s.createdAt.date.formatted(.iso8601))\n"
        )
      }
      if !page.nextPageToken.isEmpty { Console.error("more: --page-token \(page.nextPageToken)") }
    }
  }

  struct End: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End a session.")
    @OptionGroup var connection: ServerOptions
    @Argument(help: "Session id.") var session: String

    func run() async throws {
      let ended = try await connection.withClient { client in
        try await Tutor_V1_TutorService.Client(wrapping: client).endSession(
          .with { $0.sessionID = session },
          options: connection.callOptions
        )
      }
      Console.error("session \(ended.sessionID) ended after \(ended.turnCount) turns")
    }
  }
}

/// `tutor health`: exit 0 when the server reports SERVING.
struct Health: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Ask a running server's grpc.health.v1 service; exits 0 when SERVING, 1 otherwise."
  )
  @OptionGroup var connection: ServerOptions
  @Option(name: .long, help: "Service name (default: the whole server).") var service = ""

  func run() async throws {
    let status = try await connection.withClient { client in
      try await Grpc_Health_V1_Health.Client(wrapping: client).check(
        .with { $0.service = service },
        options: connection.callOptions
      ).status
    }
    let name: String
    switch status {
    case .serving: name = "SERVING"
    case .notServing: name = "NOT_SERVING"
    case .serviceUnknown: name = "SERVICE_UNKNOWN"
    case .unknown, .UNRECOGNIZED: name = "UNKNOWN"
    }
    Console.write(name + "\n")
    if status != .serving { throw ExitCode.failure }
  }
}

/// `tutor curriculum list`: the curricula a running server teaches.
struct ListCurricula: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "List the curricula a running server serves (and problems found loading them)."
  )
  @OptionGroup var connection: ServerOptions
  @Flag(name: .long, help: "Print JSON.") var json = false

  func run() async throws {
    let response = try await connection.withClient { client in
      try await Tutor_V1_CurriculumService.Client(wrapping: client).listCurricula(
        .init(),
        options: connection.callOptions
      )
    }
    if json {
      Console.write(try response.jsonString() + "\n")
      return
    }
    for c in response.curricula {
      Console.write("\(c.curriculumID)\t\(c.lessonCount) lessons\t\(c.title)\n")
    }
    for d in response.diagnostics {
      Console.error(
        "\(d.file):\(d.line):\(d.column): \(d.severity == .error ? "error" : "warning"): \(d.message)"
      )
    }
  }
}
