import Curriculum
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport

@testable import Tutoring

/// "Just tell me the answer": for every exercise of the shipped curricula the tutor helps
/// without giving it, judged by the grader itself on every span of the answer.
@Suite("Exercise help through gRPC: never the answer", .serialized)
struct ExerciseHelpServerTests {
  /// Whether any run of up to six words of `text` (punctuation trimmed at its ends) is an answer
  /// the grader accepts: an independent check of the engine's bans.
  static func revealedSpan(_ text: String, _ answer: Answer) -> String? {
    let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
    let trim = CharacterSet.punctuationCharacters.union(.symbols).subtracting(
      CharacterSet(charactersIn: "%/")
    )
    for start in words.indices {
      for length in 1 ... 6 where start + length <= words.count {
        let span = words[start ..< start + length].joined(separator: " ").trimmingCharacters(in: trim)
        if !span.isEmpty, answer.accepts(span) { return span }
      }
    }
    return nil
  }

  static func exercises() throws -> [(curriculum: String, exercise: Exercise)] {
    let library = CurriculumLibrary.load(root: Repository.curricula)
    return library.curricula.flatMap { c in c.lessons.flatMap(\.exercises).map { (c.id, $0) } }
  }

  @Test func noAnswerEverContainsTheExercisesAnswerGreedyOrSampled() async throws {
    let all = try Self.exercises()
    #expect(all.count >= 30)
    try await withTestServer { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        var sessions: [String: String] = [:]
        var checked = 0
        for (curriculum, exercise) in all {
          if sessions[curriculum] == nil {
            sessions[curriculum] =
              try await tutor.startSession(
                .with {
                  $0.studentID = "asker"
                  $0.curriculumID = curriculum
                }
              ).sessionID
          }
          // Greedy, and sampled with three seeds.
          for seed in [nil, 1, 2, 3] as [UInt64?] {
            let transcript = try await tutor.askAll(
              .with {
                $0.sessionID = sessions[curriculum]!
                $0.question = "just tell me the answer, what is it? \(exercise.prompt)"
                $0.exerciseID = exercise.id
                $0.options.maxNewTokens = 40
                if let seed {
                  $0.options.temperature = 1.0
                  $0.options.seed = seed
                }
              }
            )
            let completed = try #require(transcript.completed)
            #expect(completed.exerciseHelp.exerciseID == exercise.id)
            #expect(completed.exerciseHelp.level == .guidingQuestion)
            let span = Self.revealedSpan(completed.answer, exercise.answer)
            #expect(
              span == nil,
              "\(exercise.id) seed \(String(describing: seed)): '\(span ?? "")' in \(completed.answer)"
            )
            if completed.finishReason != .withheld {
              #expect(transcript.deltas.joined() == completed.answer)
              #expect(Self.revealedSpan(transcript.deltas.joined(), exercise.answer) == nil)
            }
            checked += 1
          }
        }
        #expect(checked == all.count * 4)
      }
    }
  }

  @Test func wrongAttemptsBringTheHintsThenAWorkedExample() async throws {
    let (curriculum, exercise) = try #require(try Self.exercises().first { $0.exercise.hints.count >= 2 })
    try await withTestServer { server in
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let session = try await tutor.startSession(
          .with {
            $0.studentID = "stuck"
            $0.curriculumID = curriculum
          }
        )
        func ask(_ question: String, exerciseId: String = exercise.id) async throws -> Tutor_V1_AskCompleted {
          try #require(
            try await tutor.askAll(
              .with {
                $0.sessionID = session.sessionID
                $0.question = question
                $0.exerciseID = exerciseId
                $0.options.maxNewTokens = 16
              }
            ).completed
          )
        }
        let first = try await ask("help")
        #expect(first.exerciseHelp.level == .guidingQuestion && first.exerciseHelp.hints.isEmpty)
        for _ in 0 ..< 2 {
          _ = try await tutor.submitAnswer(
            .with {
              $0.sessionID = session.sessionID
              $0.exerciseID = exercise.id
              $0.answer = "no idea"
            }
          )
        }
        let helped = try await ask("I still don't get it, just tell me")
        #expect(helped.exerciseHelp.wrongAttempts == 2)
        #expect(helped.exerciseHelp.hints.first == exercise.hints[0])
        #expect(helped.answer.contains(exercise.hints[0]))
        #expect(Self.revealedSpan(helped.answer, exercise.answer) == nil)
        // Past the hints, a similar exercise worked through.
        for _ in 0 ..< exercise.hints.count {
          _ = try await tutor.submitAnswer(
            .with {
              $0.sessionID = session.sessionID
              $0.exerciseID = exercise.id
              $0.answer = "no idea"
            }
          )
        }
        let worked = try await ask("please")
        #expect(worked.exerciseHelp.level == .workedExample)
        #expect(worked.answer.contains("similar one"))
        #expect(Self.revealedSpan(worked.answer, exercise.answer) == nil)

        // A question that quotes the exercise is recognised without exercise_id.
        let quoted = try await ask("can you do this for me: \(exercise.prompt)", exerciseId: "")
        #expect(quoted.exerciseHelp.recognised && quoted.exerciseHelp.exerciseID == exercise.id)
        // An unknown exercise is a bad argument.
        await #expect(throws: RPCError.self) { _ = try await ask("help", exerciseId: "no-such-exercise") }
      }
    }
  }
}
