import GRPCCore
import Logging
import SwiftProtobuf
import TutorAPI
import Tutoring

/// `tutor.v1.TutorService`: sessions, questions (streamed answers) and exercises.
struct TutorServiceHandler: Tutor_V1_TutorService.SimpleServiceProtocol {
  let tutoring: TutoringService
  let logger: Logger

  func startSession(
    request: Tutor_V1_StartSessionRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_Session {
    let session = try await tutoring.startSession(
      by: try Principal.required(),
      studentId: request.studentID,
      curriculumId: request.curriculumID,
      lessonId: request.lessonID
    )
    return Tutor_V1_Session(session, turnCount: 0)
  }

  func getSession(
    request: Tutor_V1_GetSessionRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_Session {
    let (session, turns) = try await tutoring.session(by: try Principal.required(), id: request.sessionID)
    return Tutor_V1_Session(session, turnCount: turns.count, turns: turns) {
      tutoring.citations(of: $0, in: session)
    }
  }

  func listSessions(
    request: Tutor_V1_ListSessionsRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_ListSessionsResponse {
    let page = try await tutoring.listSessions(
      by: try Principal.required(),
      studentId: request.studentID,
      curriculumId: request.curriculumID,
      pageSize: Int(request.pageSize),
      pageToken: request.pageToken
    )
    return .with {
      $0.sessions = page.sessions.map { Tutor_V1_Session($0, turnCount: page.turnCounts[$0.id] ?? 0) }
      $0.nextPageToken = page.nextPageToken ?? ""
    }
  }

  func ask(
    request: Tutor_V1_AskRequest,
    response: RPCWriter<Tutor_V1_AskResponse>,
    context: ServerContext
  ) async throws {
    let completion = try await tutoring.ask(
      by: try Principal.required(),
      sessionId: request.sessionID,
      question: request.question,
      exerciseId: request.exerciseID.isEmpty ? nil : request.exerciseID,
      options: .init(request.options)
    ) { event in
      switch event {
      case .started(let turnId, let snippetIds):
        try await response.write(
          .with {
            $0.started = .with {
              $0.turnID = turnId
              $0.snippetIds = snippetIds
            }
          }
        )
      case .delta(let text):
        try await response.write(.with { $0.delta = .with { $0.text = text } })
      }
    }
    try await response.write(
      .with {
        $0.completed = .with {
          $0.turnID = completion.turnId
          $0.answer = completion.answer
          $0.snippetIds = completion.snippetIds
          $0.citations = completion.citations.map(Tutor_V1_Citation.init)
          $0.usage = .with {
            $0.promptTokens = Int32(completion.promptTokens)
            $0.completionTokens = Int32(completion.completionTokens)
          }
          $0.finishReason = .init(completion)
          $0.latency = .init(completion.latency)
          if let help = completion.exerciseHelp { $0.exerciseHelp = .init(help) }
        }
      }
    )
  }

  func submitAnswer(
    request: Tutor_V1_SubmitAnswerRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_SubmitAnswerResponse {
    let result = try await tutoring.submitAnswer(
      by: try Principal.required(),
      sessionId: request.sessionID,
      exerciseId: request.exerciseID,
      answer: request.answer
    )
    return .with {
      $0.attemptID = result.attemptId
      $0.correct = result.correct
      $0.feedback = result.feedback
      $0.hint = result.hint ?? ""
      $0.hintsRevealed = Int32(result.hintsRevealed)
      $0.explanation = result.explanation ?? ""
      if let mastery = result.mastery { $0.mastery = .init(mastery) }
      $0.safetyReply = result.safetyReply ?? ""
    }
  }

  func endSession(
    request: Tutor_V1_EndSessionRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_Session {
    let (session, turnCount) = try await tutoring.endSession(
      by: try Principal.required(),
      id: request.sessionID
    )
    return Tutor_V1_Session(session, turnCount: turnCount)
  }
}
