import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Synchronization
import TutorAPI
import TutorServer
import TutorStore
import Tutoring

/// `tutor loadtest`: many simulated students against a running server.
struct LoadTest: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "loadtest",
    abstract: "Drive simulated students (start, ask, answer, end) against a running server.",
    discussion: """
      Each student loops until --duration ends: start a session in a lesson of --curriculum, ask
      --questions questions (streamed) and answer an exercise after each, end the session.
      Reports throughput, latency percentiles per RPC, time to first token and errors by status;
      RESOURCE_EXHAUSTED (the server's deliberate back-pressure) is counted apart and waited out
      as its retry hint says.

      With --db (the server's database, on this machine) each student gets a student token of
      its own (so per-student rate limits apply as in real use; removed afterwards), and once the
      run is over the database is counted: every session, question and answer the server
      acknowledged must be stored ("lost" must be 0). --record FILE appends each acknowledged id
      as it arrives, flushed, for crash tests.
      """
  )

  @OptionGroup var connection: ServerOptions

  @Option(help: "Simulated students, all at once.") var students = 50
  @Option(help: "Seconds to run.") var duration: Double = 60
  @Option(help: "Course the students study.") var curriculum = "photosynthesis"
  @Option(help: "Lessons the students study: the curriculum's first N (0: all).") var lessons = 0
  @Option(help: "Questions per session.") var questions = 3
  @Option(help: "Tokens per answer.") var maxNewTokens = 16
  @Option(help: "A student's mean pause before each action, in ms (uniform over 0.5–1.5×; 0: none).")
  var thinkMs = 1000
  @Option(
    help: ArgumentHelp(
      "The server's database (a SQLite file or a postgres:// URL): per-student tokens, and the lost-record count afterwards.",
      valueName: "path|url"
    )
  )
  var db: String?
  @Option(help: "Append each acknowledged session, turn and attempt id to this file.") var record: String?
  @Flag(help: "Print the report as JSON.") var json = false
  @Flag(help: "Ask with grounded decoding off (to measure what it costs).") var noGrounding = false

  func validate() throws {
    guard students >= 1, duration > 0, questions >= 1, maxNewTokens >= 1, thinkMs >= 0 else {
      throw ValidationError("--students, --duration, --questions and --max-new-tokens must be positive")
    }
  }

  func run() async throws {
    let runId = String(UInt32.random(in: .min ... .max), radix: 16)
    let prefix = "load-\(runId)-"
    var tokens: [String] = []
    var tokenIds: [String] = []
    var store: LearningRecordStore?
    if let db {
      let location = try DatabaseLocation(parsing: db)
      if let path = location.path, !FileManager.default.fileExists(atPath: path) {
        throw ValidationError("no database at \(path)")
      }
      store = try await LearningRecordStore.open(location, connections: 2)
    }
    if let store {
      for i in 0 ..< students {
        let made = try await AccessTokens(store: store).create(
          role: .student,
          studentId: prefix + String(i),
          label: "loadtest \(runId)"
        )
        tokens.append(made.token)
        tokenIds.append(made.record.id)
      }
    }
    let recorder = try record.map(Recorder.init(path:))
    let stats = LoadStats()
    let clock = ContinuousClock()
    let started = clock.now
    let deadline = started + .milliseconds(Int64(duration * 1000))
    try await connection.withClient { client in
      let all = try await Self.lessons(client, curriculum: curriculum, connection: connection)
      let lessons = self.lessons > 0 ? Array(all.prefix(self.lessons)) : all
      await withTaskGroup(of: Void.self) { group in
        for i in 0 ..< students {
          let student = SimulatedStudent(
            id: prefix + String(i),
            metadata: tokens.isEmpty ? [:] : ["authorization": "Bearer \(tokens[i])"],
            curriculum: curriculum,
            lessons: lessons,
            questions: questions,
            maxNewTokens: maxNewTokens,
            noGrounding: noGrounding,
            thinkMs: thinkMs,
            stats: stats,
            recorder: recorder,
            deadline: deadline,
            seed: UInt64(i + 1)
          )
          group.addTask { await student.run(client) }
        }
      }
    }
    let elapsed = (clock.now - started) / .seconds(1)
    var report = stats.report(elapsed: elapsed)
    if let store {
      report.database = try await Self.count(store, prefix: prefix, acknowledged: stats)
      try await store.deleteTokens(ids: tokenIds)
    }
    if json {
      try Console.writeJSON(report.json)
    } else {
      Console.write(report.text)
    }
  }

  /// The lessons of the curriculum, with their exercises.
  static func lessons(
    _ client: GRPCClient<HTTP2ClientTransport.Posix>,
    curriculum: String,
    connection: ServerOptions
  ) async throws -> [Tutor_V1_Lesson] {
    let service = Tutor_V1_CurriculumService.Client(wrapping: client)
    let summary = try await service.getCurriculum(
      .with { $0.curriculumID = curriculum },
      options: connection.callOptions
    )
    var lessons: [Tutor_V1_Lesson] = []
    for lesson in summary.lessons {
      lessons.append(
        try await service.getLesson(
          .with {
            $0.curriculumID = curriculum
            $0.lessonID = lesson.lessonID
          },
          options: connection.callOptions
        )
      )
    }
    guard !lessons.isEmpty else { throw ValidationError("curriculum '\(curriculum)' has no lessons") }
    return lessons
  }

  /// What the database holds for this run's students, against what the server acknowledged.
  static func count(
    _ store: LearningRecordStore,
    prefix: String,
    acknowledged: LoadStats
  ) async throws -> [String: Int] {
    let stored = try await store.recordCounts(studentIdPrefix: prefix)
    let ack = acknowledged.acknowledged
    return [
      "sessions_acknowledged": ack.sessions, "sessions_stored": stored.sessions,
      "turns_acknowledged": ack.turns, "turns_stored": stored.turns,
      "completed_turns_acknowledged": ack.completedTurns, "completed_turns_stored": stored.completedTurns,
      "attempts_acknowledged": ack.attempts, "attempts_stored": stored.attempts,
      "lost": max(0, ack.sessions - stored.sessions) + max(0, ack.turns - stored.turns)
        + max(0, ack.completedTurns - stored.completedTurns) + max(0, ack.attempts - stored.attempts),
    ]
  }
}

/// One simulated student's loop.
struct SimulatedStudent: Sendable {
  let id: String
  let metadata: Metadata
  let curriculum: String
  let lessons: [Tutor_V1_Lesson]
  let questions: Int
  let maxNewTokens: Int
  let noGrounding: Bool
  let thinkMs: Int
  let stats: LoadStats
  let recorder: Recorder?
  let deadline: ContinuousClock.Instant
  let seed: UInt64

  static let askable = [
    "Why do plants need light?", "What does this lesson mean?", "Can you explain that again more simply?",
    "What is the most important idea here?", "How would I remember this for a test?",
  ]

  func run(_ client: GRPCClient<HTTP2ClientTransport.Posix>) async {
    let tutor = Tutor_V1_TutorService.Client(wrapping: client)
    var random = SplitMix(seed: seed)
    while ContinuousClock.now < deadline {
      await think(&random)
      let lesson = lessons[Int(random.next() % UInt64(lessons.count))]
      guard
        let session = await call(
          "StartSession",
          {
            try await tutor.startSession(
              .with {
                $0.studentID = id
                $0.curriculumID = curriculum
                $0.lessonID = lesson.summary.lessonID
              },
              metadata: metadata
            )
          }
        )
      else { continue }
      stats.acknowledge(.session)
      recorder?.write("session \(session.sessionID)")
      for q in 0 ..< questions where ContinuousClock.now < deadline {
        await think(&random)
        await ask(
          tutor,
          session: session.sessionID,
          question: Self.askable[(Int(seed) + q) % Self.askable.count]
        )
        if !lesson.exercises.isEmpty {
          await think(&random)
          let exercise = lesson.exercises[Int(random.next() % UInt64(lesson.exercises.count))]
          let answer =
            exercise.choices.isEmpty
            ? (exercise.answerKind == .number ? "3/4" : "a guess")
            : exercise.choices[Int(random.next() % UInt64(exercise.choices.count))]
          if let result = await call(
            "SubmitAnswer",
            {
              try await tutor.submitAnswer(
                .with {
                  $0.sessionID = session.sessionID
                  $0.exerciseID = exercise.exerciseID
                  $0.answer = answer
                },
                metadata: metadata
              )
            }
          ) {
            stats.acknowledge(.attempt)
            recorder?.write("attempt \(result.attemptID)")
          }
        }
      }
      _ = await call(
        "EndSession",
        { try await tutor.endSession(.with { $0.sessionID = session.sessionID }, metadata: metadata) }
      )
    }
  }

  /// A student's pause: reading, thinking, typing.
  private func think(_ random: inout SplitMix) async {
    guard thinkMs > 0 else { return }
    let milliseconds = Double(thinkMs) * (0.5 + random.unit())
    try? await Task.sleep(for: .milliseconds(Int(milliseconds)))
  }

  /// One streamed question: time to first text, the stored turn (`started`) and its completion.
  private func ask(
    _ tutor: Tutor_V1_TutorService.Client<HTTP2ClientTransport.Posix>,
    session: String,
    question: String
  ) async {
    let start = ContinuousClock.now
    let outcome: Result<(Tutor_V1_AskCompleted?, Duration?), any Error>
    do {
      let result = try await tutor.ask(
        .with {
          $0.sessionID = session
          $0.question = question
          $0.options.maxNewTokens = Int32(maxNewTokens)
          if noGrounding {
            $0.options.copyBias = 0
            $0.options.contrastStrength = 0
            $0.options.noRepeatNgramSize = 0
            $0.options.endAtSentence = false
            $0.options.maxSentences = 0
          }
        },
        metadata: metadata
      ) { response in
        var completed: Tutor_V1_AskCompleted?
        var firstText: Duration?
        for try await message in response.messages {
          switch message.event {
          case .started(let started):
            stats.acknowledge(.turn)
            recorder?.write("turn \(started.turnID)")
          case .delta:
            if firstText == nil { firstText = ContinuousClock.now - start }
          case .completed(let done): completed = done
          case nil: break
          }
        }
        return (completed, firstText)
      }
      outcome = .success(result)
    } catch {
      outcome = .failure(error)
    }
    let elapsed = ContinuousClock.now - start
    switch outcome {
    case .success(let (completed, firstText)):
      stats.record("Ask", elapsed: elapsed, error: nil)
      if let firstText { stats.recordFirstToken(firstText) }
      if let completed {
        stats.acknowledge(.completedTurn, tokens: Int(completed.usage.completionTokens))
        recorder?.write("completed \(completed.turnID)")
      }
    case .failure(let error):
      stats.record("Ask", elapsed: elapsed, error: error)
      await backOff(error)
    }
  }

  /// Runs one unary call, timing it and counting its status; nil when it failed.
  private func call<T: Sendable>(_ name: String, _ body: () async throws -> T) async -> T? {
    let start = ContinuousClock.now
    do {
      let value = try await body()
      stats.record(name, elapsed: ContinuousClock.now - start, error: nil)
      return value
    } catch {
      stats.record(name, elapsed: ContinuousClock.now - start, error: error)
      await backOff(error)
      return nil
    }
  }

  /// After RESOURCE_EXHAUSTED, waits as long as the server's retry hint says (else a second);
  /// after anything else, a moment, so a down server isn't hammered.
  private func backOff(_ error: any Error) async {
    var milliseconds = 100
    if let error = error as? RPCError, error.code == .resourceExhausted {
      milliseconds =
        Array(error.metadata[stringValues: "grpc-retry-pushback-ms"]).first.flatMap { Int($0) } ?? 1000
    }
    try? await Task.sleep(for: .milliseconds(milliseconds))
  }
}

/// Appends lines to a file, each written straight through (no buffering), so what was written
/// survives a crash of any other process.
final class Recorder: Sendable {
  private let handle: Mutex<FileHandle>

  init(path: String) throws {
    if !FileManager.default.fileExists(atPath: path) {
      guard FileManager.default.createFile(atPath: path, contents: nil) else {
        throw ValidationError("cannot write \(path)")
      }
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seekToEnd()
    self.handle = Mutex(handle)
  }

  func write(_ line: String) {
    handle.withLock { try? $0.write(contentsOf: Data((line + "\n").utf8)) }
  }
}
