import Curriculum
import Engine
import Foundation
import Logging
import Synchronization
import TutorStore

// Exercises: answers graded, hints revealed, mastery updated.
extension TutoringService {
  // MARK: Exercises

  /// A graded answer.
  public struct AnswerResult: Sendable, Equatable {
    public var attemptId: String
    public var correct: Bool
    public var feedback: String
    public var hint: String?
    public var hintsRevealed: Int
    public var explanation: String?
    public var mastery: ObjectiveMastery?
    /// The deployment's reply when the answer needed an adult (screening's `reply` action).
    public var safetyReply: String? = nil
  }

  /// A student's mastery of one objective.
  public struct ObjectiveMastery: Sendable, Equatable {
    public var curriculumId: String
    public var lessonId: String
    public var objectiveId: String
    public var probability: Double
    public var mastered: Bool
  }

  /// Exercise answers this many words long or longer are also read by the classifier.
  static let classifiedAnswerWords = 4

  /// Grades an answer to one of the session's curriculum's exercises, reveals the next hint
  /// after a wrong one, and updates the objective's mastery (Bayesian Knowledge Tracing).
  public func submitAnswer(
    by caller: Principal,
    sessionId: String,
    exerciseId: String,
    answer: String
  ) async throws -> AnswerResult {
    try caller.authorize(.submitAnswer)
    let session = try await authorizedSession(sessionId, caller: caller, write: true)
    try checkIdentifier(exerciseId, field: "exercise_id")
    let response = try studentText(answer, field: "answer")
    let curriculum = try servedCurriculum(of: session)
    guard
      let (lesson, exercise) = curriculum.lessons.lazy.compactMap({ l in
        l.exercise(exerciseId).map { (l, $0) }
      })
      .first
    else {
      throw TutoringError.notFound("curriculum '\(curriculum.id)' has no exercise '\(exerciseId)'")
    }
    let correct = exercise.answer.accepts(response)
    // Screened like a question: what needs an adult is flagged, and the student gets the reply.
    let stored = redacted(response)
    // The classifier only for a sentence (an embedding costs the retrieval queue; a short
    // answer — a number, a word — is the lexicon's).
    let sentence = stored.split(whereSeparator: \.isWhitespace).count >= Self.classifiedAnswerWords
    let vector = limits.safety.classifier != nil && sentence ? await catalog.embedding(stored) : nil
    let findings = limits.safety.screen(response, vector: vector)
    let flags = TurnFlag.flags(findings, source: .exerciseAnswer)
    let needsAdult = limits.safety.replyFindings(findings)
    let before = try await store.attemptCounts(sessionId: sessionId, exerciseId: exerciseId)
    let revealedBefore = min(before.wrong, exercise.hints.count)
    var hint: String?
    var revealedAfter = revealedBefore
    if !correct, before.wrong < exercise.hints.count {
      hint = exercise.hints[before.wrong]
      revealedAfter = before.wrong + 1
    }
    let objective = exercise.objective.flatMap { id in lesson.objectives.first { $0.id == id } }
    let parameters = objective?.mastery ?? curriculum.mastery
    let attempt = StoredAttempt(
      id: UUID().uuidString.lowercased(),
      sessionId: sessionId,
      studentId: session.studentId,
      curriculumId: curriculum.id,
      lessonId: lesson.id,
      exerciseId: exerciseId,
      objectiveId: objective?.id,
      // Graded as typed, stored without personal data.
      answer: stored,
      correct: correct,
      hintsRevealed: revealedBefore,
      hintRevealed: revealedAfter > revealedBefore ? revealedAfter : nil,
      createdAtMs: Date().millisecondsSince1970,
      flags: flags
    )
    let probability = try await store.recordAttempt(attempt) { prior in
      KnowledgeTracing.update(prior: prior, correct: correct, parameters: parameters)
    }
    countFlags(flags, turnId: attempt.id, sessionId: sessionId)
    var mastery: ObjectiveMastery?
    if let objective, let probability {
      mastery = ObjectiveMastery(
        curriculumId: curriculum.id,
        lessonId: lesson.id,
        objectiveId: objective.id,
        probability: probability,
        mastered: probability >= parameters.threshold
      )
    }
    var feedback = correct ? "Correct!" : "Not quite."
    if !correct { feedback += hint == nil ? " Have another look at the lesson." : " Here is a hint." }
    return AnswerResult(
      attemptId: attempt.id,
      correct: correct,
      feedback: feedback,
      hint: hint,
      hintsRevealed: revealedAfter,
      explanation: correct ? exercise.explanation : nil,
      mastery: mastery,
      safetyReply: needsAdult.isEmpty
        ? nil : limits.safety.reply(to: needsAdult, curriculumReply: curriculum.safetyReply)
    )
  }
}
