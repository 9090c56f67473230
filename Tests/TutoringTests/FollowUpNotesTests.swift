import Curriculum
import Foundation
import Testing
import TutorStore

@testable import Tutoring

/// A follow-up that finds no note of its own keeps the notes of the answer before it, so the
/// model answers about what the conversation is about, and the prompt begins with the previous
/// turn's prompt and answer, which the prefix cache then serves.
@Suite struct FollowUpNotesTests {
  @Test func aFollowUpWithoutNotesOfItsOwnKeepsThePreviousTurnsNotes() async throws {
    // The bundled model: its context holds a tutoring prompt, the test model's does not.
    try await CoreAccessTests.withCore(model: "models/tutor") { core in
      let session = try await core.startSession(
        by: CoreAccessTests.ada,
        studentId: "",
        curriculumId: "photosynthesis",
        lessonId: nil
      )
      func ask(_ question: String) async throws -> TutoringService.AskCompletion {
        try await core.ask(
          by: CoreAccessTests.ada,
          sessionId: session.id,
          question: question,
          options: .init(maxNewTokens: 8)
        ) { _ in }
      }
      let search = await core.catalog.search(
        "can you say that again?",
        curriculum: "photosynthesis",
        lesson: nil,
        limit: 4
      )
      try #require(search.isEmpty, "the follow-up has no note of its own")

      let first = try await ask("Why do plants need light for photosynthesis?")
      try #require(!first.snippetIds.isEmpty)
      let reusedBefore = try #require(core.model.prefixCacheStatistics).reusedTokens
      let followUp = try await ask("can you say that again?")
      #expect(followUp.snippetIds == first.snippetIds)
      #expect(followUp.citations.map(\.snippetId) == first.snippetIds)
      // The new prompt extends the first turn's prompt (and its answer): at least that much of it
      // came from the cache.
      let reused = try #require(core.model.prefixCacheStatistics).reusedTokens - reusedBefore
      #expect(reused >= first.promptTokens, "reused \(reused) of \(followUp.promptTokens) prompt tokens")
      let stored = try await core.session(by: CoreAccessTests.ada, id: session.id).turns
      #expect(stored.map(\.snippetIds) == [first.snippetIds, first.snippetIds])

      // A question with notes of its own gets those, and a session's first question without
      // notes keeps none: there is nothing before it.
      let other = try await core.startSession(
        by: CoreAccessTests.ada,
        studentId: "",
        curriculumId: "photosynthesis",
        lessonId: nil
      )
      let opening = try await core.ask(
        by: CoreAccessTests.ada,
        sessionId: other.id,
        question: "can you say that again?",
        options: .init(maxNewTokens: 4)
      ) { _ in }
      #expect(opening.snippetIds.isEmpty)
    }
  }
}
