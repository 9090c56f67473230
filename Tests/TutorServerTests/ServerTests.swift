import Curriculum
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Synchronization
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport

/// The real server on a loopback port, driven through the generated Swift clients.
@Suite("Tutoring server, end to end")
struct ServerTests {
  @Test("A whole tutoring session: start, ask (streamed), answer exercises, list, end")
  func wholeSession() async throws {
    try await withTestServer { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        #expect(try await health.check(.with { $0.service = "" }).status == .serving)
        #expect(try await health.check(.with { $0.service = "tutor.v1.TutorService" }).status == .serving)

        let session = try await tutor.startSession(
          .with {
            $0.studentID = "student-1"
            $0.curriculumID = "photosynthesis"
          }
        )
        #expect(session.state == .active)
        let firstLesson = CurriculumLibrary.load(root: Repository.curricula).curriculum("photosynthesis")?
          .lessons.first
        #expect(session.lessonID == firstLesson?.id, "no lesson given: the curriculum's first")
        #expect(!session.sessionID.isEmpty)

        let transcript = try await tutor.askAll(
          .with {
            $0.sessionID = session.sessionID
            $0.question = "Why do plants need sunlight?"
            $0.options = .with { $0.maxNewTokens = 24 }
          }
        )
        let started = try #require(transcript.started)
        let completed = try #require(transcript.completed)
        #expect(started.turnID == completed.turnID)
        #expect(!completed.snippetIds.isEmpty, "the prompt cites lesson notes")
        #expect(started.snippetIds == completed.snippetIds)
        #expect(completed.snippetIds.allSatisfy { $0.hasPrefix("photosynthesis/") })
        // Every answer carries its sources: the notes it was given, with what a client shows.
        let notes = try #require(
          CurriculumLibrary.load(root: Repository.curricula).curriculum("photosynthesis")
        ).snippets
        #expect(completed.citations.map(\.snippetID) == completed.snippetIds)
        for citation in completed.citations {
          let note = try #require(notes.first { $0.id == citation.snippetID })
          #expect(citation.text == note.text)
          #expect(citation.heading == note.heading)
          #expect(citation.lessonID == note.lessonId)
          #expect(citation.lessonTitle == note.lessonTitle && !citation.lessonTitle.isEmpty)
        }
        #expect(transcript.deltas.joined() == completed.answer, "deltas concatenate to the answer")
        #expect(!transcript.deltas.isEmpty)
        #expect(completed.usage.promptTokens > 50)
        #expect(completed.usage.completionTokens > 0 && completed.usage.completionTokens <= 24)
        #expect(completed.finishReason != .unspecified && completed.finishReason != .cancelled)

        // A second question sees the first in its history and gets the next index.
        let second = try await tutor.askAll(
          .with {
            $0.sessionID = session.sessionID
            $0.question = "What is chlorophyll?"
            $0.options = .with { $0.maxNewTokens = 8 }
          }
        )
        let secondCompleted = try #require(second.completed)
        #expect(secondCompleted.usage.promptTokens > completed.usage.promptTokens / 2)

        // Exercises: a wrong answer reveals the first hint; a right one updates mastery upwards.
        let library = CurriculumLibrary.load(root: Repository.curricula)
        let lesson = try #require(
          library.curriculum("photosynthesis")?.lessons.first { !$0.exercises.isEmpty }
        )
        let exercise = try #require(lesson.exercises.first { $0.objective != nil && !$0.hints.isEmpty })
        let right = try #require(Self.correctAnswer(exercise.answer))
        let wrong = try await tutor.submitAnswer(
          .with {
            $0.sessionID = session.sessionID
            $0.exerciseID = exercise.id
            $0.answer = "zzz not an answer 987654"
          }
        )
        #expect(!wrong.correct)
        #expect(wrong.hint == exercise.hints[0])
        #expect(wrong.hintsRevealed == 1)
        #expect(wrong.mastery.objectiveID == exercise.objective)
        let correct = try await tutor.submitAnswer(
          .with {
            $0.sessionID = session.sessionID
            $0.exerciseID = exercise.id
            $0.answer = right
          }
        )
        #expect(correct.correct)
        #expect(correct.hint.isEmpty)
        #expect(correct.mastery.probability > wrong.mastery.probability)
        // Knowledge tracing with the defaults (p_init 0.3, p_learn 0.1, p_guess 0.2, p_slip 0.1), by
        // hand: P(L | wrong) = 0.3·0.1 / (0.3·0.1 + 0.7·0.8), then learning; then the right answer.
        let afterWrong = 0.03 / 0.59 + (1 - 0.03 / 0.59) * 0.1
        #expect(abs(wrong.mastery.probability - afterWrong) < 1e-9)
        let knewIt = afterWrong * 0.9 / (afterWrong * 0.9 + (1 - afterWrong) * 0.2)
        #expect(abs(correct.mastery.probability - (knewIt + (1 - knewIt) * 0.1)) < 1e-9)
        #expect(correct.explanation == (exercise.explanation ?? ""))

        let full = try await tutor.getSession(.with { $0.sessionID = session.sessionID })
        #expect(full.turns.count == 2)
        #expect(full.turnCount == 2)
        #expect(full.turns.map(\.index) == [0, 1])
        #expect(full.turns[0].question == "Why do plants need sunlight?")
        #expect(full.turns[0].answer == completed.answer)
        #expect(full.turns[0].status == .completed)
        #expect(full.turns[0].snippetIds == completed.snippetIds)
        #expect(full.turns[0].citations == completed.citations, "GetSession returns each turn's sources")
        #expect(full.turns[1].citations == secondCompleted.citations)
        #expect(full.turns[0].usage == completed.usage)

        let listed = try await tutor.listSessions(.with { $0.studentID = "student-1" })
        #expect(listed.sessions.map(\.sessionID) == [session.sessionID])
        #expect(listed.sessions[0].turnCount == 2)
        #expect(listed.sessions[0].turns.isEmpty)

        let progress = try await Tutor_V1_AnalyticsService.Client(wrapping: client).getStudentProgress(
          .with { $0.studentID = "student-1" }
        )
        let course = try #require(progress.curricula.first)
        #expect(course.curriculumID == "photosynthesis")
        #expect(course.attempts == 2 && course.correctAttempts == 1 && course.hintsUsed == 1)
        #expect(course.questionsAsked == 2)

        let ended = try await tutor.endSession(.with { $0.sessionID = session.sessionID })
        #expect(ended.state == .ended && ended.hasEndedAt)
        await #expect(throws: RPCError.self) {
          _ = try await tutor.askAll(
            .with {
              $0.sessionID = session.sessionID
              $0.question = "Still there?"
            }
          )
        }
        do {
          _ = try await tutor.askAll(
            .with {
              $0.sessionID = session.sessionID
              $0.question = "Still there?"
            }
          )
        } catch let error as RPCError {
          #expect(error.code == .failedPrecondition)
          #expect(error.message.contains("ended"))
        }
      }
    }
  }

  @Test("Sessions and their turns survive a restart on the same database")
  func restart() async throws {
    let database = TestServer.scratchDatabase()
    let (sessionId, answer) = try await withTestServer(database: database) { first in
      try await first.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "student-r"
            $0.curriculumID = "fractions-ratios"
          }
        )
        let t = try await tutor.askAll(
          .with {
            $0.sessionID = session.sessionID
            $0.question = "How do I add fractions?"
            $0.options = .with { $0.maxNewTokens = 12 }
          }
        )
        return (session.sessionID, try #require(t.completed).answer)
      }
    }

    try await withTestServer(database: database) { second in
      try await second.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.getSession(.with { $0.sessionID = sessionId })
        #expect(session.studentID == "student-r")
        #expect(session.curriculumID == "fractions-ratios")
        #expect(session.turns.count == 1)
        #expect(session.turns.first?.question == "How do I add fractions?")
        #expect(session.turns.first?.answer == answer)
        #expect(session.turns.first?.status == .completed)
        // And the session goes on.
        let t = try await tutor.askAll(
          .with {
            $0.sessionID = sessionId
            $0.question = "And subtract them?"
            $0.options = .with { $0.maxNewTokens = 4 }
          }
        )
        #expect(t.completed != nil)
      }
    }
  }

  @Test("Bad requests get the right status and a message that says what is wrong")
  func errors() async throws {
    try await withTestServer { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "student-e"
            $0.curriculumID = "python-intro"
          }
        )
        func status(_ body: () async throws -> Void) async -> RPCError? {
          do {
            try await body()
            return nil
          } catch {
            return error as? RPCError
          }
        }
        let unknownSession = await status {
          _ = try await tutor.getSession(.with { $0.sessionID = "no-such-session" })
        }
        #expect(unknownSession?.code == .notFound)
        #expect(unknownSession?.message.contains("no-such-session") == true)

        let unknownAsk = await status {
          _ = try await tutor.askAll(
            .with {
              $0.sessionID = "no-such-session"
              $0.question = "Hello?"
            }
          )
        }
        #expect(unknownAsk?.code == .notFound)

        let empty = await status {
          _ = try await tutor.askAll(
            .with {
              $0.sessionID = session.sessionID
              $0.question = "   \n"
            }
          )
        }
        #expect(empty?.code == .invalidArgument)
        #expect(empty?.message == "question is empty")

        let unknownCurriculum = await status {
          _ = try await tutor.startSession(
            .with {
              $0.studentID = "student-e"
              $0.curriculumID = "astrology"
            }
          )
        }
        #expect(unknownCurriculum?.code == .invalidArgument)
        #expect(unknownCurriculum?.message.contains("no curriculum 'astrology'") == true)
        #expect(unknownCurriculum?.message.contains("photosynthesis") == true)

        let unknownLesson = await status {
          _ = try await tutor.startSession(
            .with {
              $0.studentID = "student-e"
              $0.curriculumID = "python-intro"
              $0.lessonID = "nope"
            }
          )
        }
        #expect(unknownLesson?.code == .invalidArgument)

        let oversize = await status {
          _ = try await tutor.askAll(
            .with {
              $0.sessionID = session.sessionID
              $0.question = String(repeating: "why ", count: 1000)
            }
          )
        }
        #expect(oversize?.code == .invalidArgument)
        #expect(oversize?.message.contains("at most 2000") == true)

        let tooManyTokens = await status {
          _ = try await tutor.askAll(
            .with {
              $0.sessionID = session.sessionID
              $0.question = "What is a loop?"
              $0.options = .with { $0.maxNewTokens = 100_000 }
            }
          )
        }
        #expect(tooManyTokens?.code == .invalidArgument)
        #expect(tooManyTokens?.message.contains("max_new_tokens") == true)

        let badPage = await status {
          _ = try await tutor.listSessions(
            .with {
              $0.studentID = "student-e"
              $0.pageToken = "garbage"
            }
          )
        }
        #expect(badPage?.code == .invalidArgument)

        let noFilter = await status { _ = try await tutor.listSessions(.with { $0.pageSize = 3 }) }
        #expect(noFilter?.code == .invalidArgument)

        let unknownExercise = await status {
          _ = try await tutor.submitAnswer(
            .with {
              $0.sessionID = session.sessionID
              $0.exerciseID = "nope"
              $0.answer = "42"
            }
          )
        }
        #expect(unknownExercise?.code == .notFound)

        let curricula = Tutor_V1_CurriculumService.Client(wrapping: client)
        let unknownGet = await status {
          _ = try await curricula.getCurriculum(.with { $0.curriculumID = "astrology" })
        }
        #expect(unknownGet?.code == .notFound)

        // Nothing was stored for the refused questions.
        let stored = try await tutor.getSession(.with { $0.sessionID = session.sessionID })
        #expect(stored.turns.isEmpty)

        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        let unknownService = await status { _ = try await health.check(.with { $0.service = "no.Such" }) }
        #expect(unknownService?.code == .notFound)
      }
    }
  }

  // MARK: Helpers

  /// A flag shared with a `@Sendable` closure.
  final class Shared: Sendable {
    private let state: Mutex<Bool>
    init(_ value: Bool) { state = Mutex(value) }
    func set(_ value: Bool) { state.withLock { $0 = value } }
    var value: Bool { state.withLock { $0 } }
  }

  static func waitForTurn(
    _ tutor: Tutor_V1_TutorService.Client<HTTP2ClientTransport.Posix>,
    session: String,
    index: Int,
    until done: (Tutor_V1_Turn.Status) -> Bool
  ) async throws -> Tutor_V1_Turn {
    for _ in 0 ..< 200 {
      let s = try await tutor.getSession(.with { $0.sessionID = session })
      if let turn = s.turns.first(where: { $0.index == index }), done(turn.status) { return turn }
      try await Task.sleep(for: .milliseconds(25))
    }
    throw RPCError(code: .deadlineExceeded, message: "turn \(index) never finished")
  }

  static func correctAnswer(_ answer: Answer) -> String? {
    switch answer {
    case .exact(let texts): return texts.first
    case .numeric(let value, _): return String(value)
    case .choice(_, let correct): return correct.first
    case .regex: return nil
    }
  }
}
