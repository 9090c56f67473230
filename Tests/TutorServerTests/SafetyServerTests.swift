import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Prometheus
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorStore
import TutorTestSupport

@testable import Tutoring

/// Screening end to end: a message that needs an adult gets the configured reply without the
/// model, is stored flagged, and reaches a teacher's ListFlaggedTurns (never a student's).
@Suite("Screening questions and answers through gRPC", .serialized)
struct SafetyServerTests {
  static func tokens(_ server: TestServer) async throws -> (student: String, teacher: String, other: String) {
    let tokens = AccessTokens(store: server.server.tutoring.store)
    return (
      try await tokens.create(role: .student, studentId: "kit").token,
      try await tokens.create(role: .teacher, curricula: ["photosynthesis"]).token,
      try await tokens.create(role: .teacher, curricula: ["fractions-ratios"]).token
    )
  }

  static func bearer(_ token: String) -> Metadata { ["authorization": "Bearer \(token)"] }

  @Test func aSelfHarmMessageGetsTheReplyWithoutTheModelAndATeacherSeesTheFlag() async throws {
    try await AccessTests.withSecuredServer { server in
      let (student, teacher, other) = try await Self.tokens(server)
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let analytics = Tutor_V1_AnalyticsService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with { $0.curriculumID = "photosynthesis" },
          metadata: Self.bearer(student)
        )
        let registry = TestMetrics.registry
        let steps = server.server.tutoring.model.batcher.statistics.steps
        let question = "i dont want to be alive anymore, email me at kit.b@example.com"
        let transcript = try await tutor.ask(
          .with {
            $0.sessionID = session.sessionID
            $0.question = question
          },
          metadata: Self.bearer(student)
        ) { response in
          var deltas: [String] = []
          var completed: Tutor_V1_AskCompleted?
          for try await message in response.messages {
            if case .delta(let d) = message.event { deltas.append(d.text) }
            if case .completed(let c) = message.event { completed = c }
          }
          return (deltas, try #require(completed))
        }
        let reply = server.server.tutoring.limits.safety.defaultReply
        #expect(transcript.1.finishReason == .safetyReply)
        #expect(transcript.1.answer == reply)
        #expect(transcript.0.joined() == reply)
        #expect(transcript.1.usage.completionTokens == 0)
        // The model was not asked: the batcher ran no step.
        #expect(server.server.tutoring.model.batcher.statistics.steps == steps)
        // Operators see flagged turns by category.
        var exposition: [UInt8] = []
        registry.emit(into: &exposition)
        #expect(
          String(decoding: exposition, as: UTF8.self).contains(
            #"tutor_flagged_turns_total{category="self_harm"}"#
          )
        )

        // Stored flagged and redacted; the student's own record shows what they read.
        let turns = try await server.server.tutoring.store.turns(sessionId: session.sessionID)
        let turn = try #require(turns.first)
        #expect(turn.question == "i dont want to be alive anymore, email me at [email]")
        #expect(turn.answer == reply)
        #expect(turn.finishReason == TutoringService.safetyReplyFinishReason)
        #expect(
          Set(turn.flags) == [
            TurnFlag(source: .question, category: "self_harm", severity: "high"),
            TurnFlag(source: .question, category: "personal_data", severity: "low"),
          ]
        )

        // The teacher of the curriculum sees it, highest severity first.
        let listed = try await analytics.listFlaggedTurns(
          .with { $0.minSeverity = .high },
          metadata: Self.bearer(teacher)
        )
        let flagged = try #require(listed.turns.first)
        #expect(listed.turns.count == 1)
        #expect(flagged.turnID == turn.id && flagged.studentID == "kit")
        #expect(flagged.severity == .high && flagged.category == "self_harm")
        #expect(flagged.question.contains("[email]") && !flagged.question.contains("example.com"))
        #expect(flagged.flags.contains { $0.category == "self_harm" && $0.source == .question })
        // A teacher of another curriculum does not; a student is refused.
        let others = try await analytics.listFlaggedTurns(.init(), metadata: Self.bearer(other))
        #expect(others.turns.isEmpty)
        await #expect(throws: RPCError.self) {
          _ = try await analytics.listFlaggedTurns(.init(), metadata: Self.bearer(student))
        }
        do {
          _ = try await analytics.listFlaggedTurns(.init(), metadata: Self.bearer(student))
        } catch let error as RPCError {
          #expect(error.code == .permissionDenied)
        }
        do {
          _ = try await analytics.listFlaggedTurns(
            .with { $0.curriculumID = "photosynthesis" },
            metadata: Self.bearer(other)
          )
          Issue.record("a teacher listed another curriculum's flags")
        } catch let error as RPCError {
          #expect(error.code == .permissionDenied)
        }
        // The exports carry the flags.
        let admin = try await AccessTokens(store: server.server.tutoring.store).create(role: .admin).token
        let (jsonl, _) = try await ExportRPCTests.exportAll(
          analytics,
          .with { $0.format = .jsonl },
          metadata: Self.bearer(admin)
        )
        #expect(String(decoding: jsonl, as: UTF8.self).contains(#""flags":["question:self_harm:high","#))
        // GetSession's turn says how it ended.
        let shown = try await tutor.getSession(
          .with { $0.sessionID = session.sessionID },
          metadata: Self.bearer(student)
        )
        #expect(shown.turns.first?.finishReason == .safetyReply)
      }
    }
  }

  @Test func anExerciseAnswerThatNeedsAnAdultGetsTheReplyAndIsListed() async throws {
    try await AccessTests.withSecuredServer { server in
      let (student, teacher, _) = try await Self.tokens(server)
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let analytics = Tutor_V1_AnalyticsService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with { $0.curriculumID = "photosynthesis" },
          metadata: Self.bearer(student)
        )
        let exercise = try #require(
          server.server.tutoring.catalog.snapshot.curriculum("photosynthesis")?.lessons.flatMap(\.exercises)
            .first
        )
        let response = try await tutor.submitAnswer(
          .with {
            $0.sessionID = session.sessionID
            $0.exerciseID = exercise.id
            $0.answer = "idc i want to kill myself"
          },
          metadata: Self.bearer(student)
        )
        #expect(!response.correct)
        #expect(response.safetyReply == server.server.tutoring.limits.safety.defaultReply)
        let listed = try await analytics.listFlaggedTurns(.init(), metadata: Self.bearer(teacher))
        let flagged = try #require(listed.turns.first)
        #expect(flagged.exerciseID == exercise.id && flagged.turnID == response.attemptID)
        #expect(flagged.question == "idc i want to kill myself" && flagged.severity == .high)
        #expect(flagged.flags.map(\.source) == [.exerciseAnswer])
        // An ordinary wrong answer is not flagged and gets no reply.
        let wrong = try await tutor.submitAnswer(
          .with {
            $0.sessionID = session.sessionID
            $0.exerciseID = exercise.id
            $0.answer = "no idea"
          },
          metadata: Self.bearer(student)
        )
        #expect(wrong.safetyReply.isEmpty)
        #expect(
          try await analytics.listFlaggedTurns(.init(), metadata: Self.bearer(teacher)).turns.count == 1
        )
      }
    }
  }

  /// What screening answered in the model's place never reaches the model later, as history:
  /// the next question's prompt is the one a fresh session gets.
  @Test func aScreenedQuestionIsLeftOutOfLaterPrompts() async throws {
    try await withTestServer { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        func session() async throws -> String {
          try await tutor.startSession(
            .with {
              $0.studentID = "jo"
              $0.curriculumID = "photosynthesis"
            }
          ).sessionID
        }
        func ask(_ session: String, _ question: String) async throws -> Tutor_V1_AskCompleted {
          try #require(
            try await tutor.askAll(
              .with {
                $0.sessionID = session
                $0.question = question
                $0.options.maxNewTokens = 4
              }
            ).completed
          )
        }
        let screened = try await session()
        #expect(try await ask(screened, "i want to kill myself").finishReason == .safetyReply)
        let after = try await ask(screened, "why are leaves green?")
        let fresh = try await ask(try await session(), "why are leaves green?")
        #expect(after.usage.promptTokens == fresh.usage.promptTokens)
        #expect(after.usage.promptTokens > 0)
      }
    }
  }

  @Test func anOrdinaryQuestionIsAnsweredAndNotFlagged() async throws {
    try await withTestServer { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "lee"
            $0.curriculumID = "photosynthesis"
          }
        )
        let transcript = try await tutor.askAll(
          .with {
            $0.sessionID = session.sessionID
            $0.question = "I'm dying to know why leaves are green"
            $0.options.maxNewTokens = 24
          }
        )
        let completed = try #require(transcript.completed)
        #expect(completed.finishReason != .safetyReply && completed.finishReason != .withheld)
        #expect(completed.usage.completionTokens > 0)
        // The deltas, held back a word at a time, still concatenate to the answer.
        #expect(transcript.deltas.joined() == completed.answer)
        let turns = try await server.server.tutoring.store.turns(sessionId: session.sessionID)
        #expect(turns.first?.flags == [])
      }
    }
  }

  /// A deployment whose rules match what the model writes: the answer is withheld mid-stream,
  /// the student reads the neutral message, and the stored answer is that message.
  @Test func anAnswerThatFailsScreeningIsWithheld() async throws {
    let rules = """
      withheld_reply: Let's talk about the lesson instead.
      benign: []
      categories:
        bullying:
          severity: medium
          patterns: ['\\b(the|a|and|of|to|is|in)\\b']
      """
    let screen = try MessageScreen(rules: MessageScreen.rules(yaml: rules))
    let configure: (inout TutorServerConfiguration) -> Void = { $0.limits.safety = screen }
    try await withTestServer(configure: configure) { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "mo"
            $0.curriculumID = "photosynthesis"
          }
        )
        let transcript = try await tutor.askAll(
          .with {
            $0.sessionID = session.sessionID
            $0.question = "why are leaves green"
            $0.options.maxNewTokens = 40
          }
        )
        let completed = try #require(transcript.completed)
        #expect(completed.finishReason == .withheld)
        #expect(completed.answer == "Let's talk about the lesson instead.")
        // What was streamed before the failing word never contains it.
        let streamed = transcript.deltas.joined()
        #expect(screen.screen(streamed, personalData: false).isEmpty, "\(streamed)")
        let turn = try #require(
          try await server.server.tutoring.store.turns(sessionId: session.sessionID).first
        )
        #expect(turn.answer == "Let's talk about the lesson instead.")
        #expect(turn.finishReason == TutoringService.withheldFinishReason)
        #expect(turn.flags == [TurnFlag(source: .answer, category: "bullying", severity: "medium")])
      }
    }
  }
}
