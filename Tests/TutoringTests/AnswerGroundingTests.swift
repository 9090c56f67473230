import Curriculum
import Engine
import Foundation
import Testing

@testable import Tutoring

/// Grounded answers in the core: note sentences, the settings' precedence, sources and scores.
@Suite struct AnswerGroundingTests {
  @Test func notesSplitIntoProseSentences() {
    let note = """
      The `print()` function shows values on the screen. Put what you want inside the brackets, e.g. \
      3.5 or "hi". Text needs quotes!

      ```python
      print("Hello, world!")
      ```

      - A **list** item with enough words in it.
      """
    #expect(
      NoteSentences.split(note) == [
        "The `print()` function shows values on the screen.",
        "Put what you want inside the brackets, e.g. 3.5 or \"hi\".",
        "Text needs quotes!",
        "A list item with enough words in it.",
      ]
    )
  }

  @Test func requestOverridesCurriculumOverridesServer() {
    let server = AnswerGrounding.standard
    let curriculum = GenerationDefaults(copyBias: 5, noRepeatNGramSize: 0, maxSentences: 4)
    let resolved = TutoringService.GenerationOptions(copyBias: 9, endAtSentence: false)
      .grounding(curriculum: curriculum, server: server)
    #expect(resolved.copyBias == 9)
    #expect(resolved.noRepeatNGramSize == 0)
    #expect(resolved.maxSentences == 4)
    #expect(resolved.endAtSentence == false)
    #expect(resolved.contrastStrength == server.contrastStrength)
    #expect(TutoringService.GenerationOptions().grounding(curriculum: .init(), server: server) == server)
  }

  @Test func sourcesFollowRankPositionAndCloseness() {
    func hit(_ id: String, _ text: String) -> SnippetHit {
      SnippetHit(id: id, score: 1, text: text, heading: id, curriculumId: "c", lessonId: "l")
    }
    let notes = [
      hit("a", "First note opens here. It goes on a while."),
      hit("b", "Second note is the close one. More of it follows."),
    ].map { (hit: $0, sentences: NoteSentences.split($0.text)) }
    let encode: (String) -> [Int] = { text in text.unicodeScalars.map { Int($0.value) } }
    let plain = TutoringService.grounding(
      .standard,
      notes: notes,
      similarities: nil,
      contrastPromptTokens: [1],
      encode: encode
    )
    #expect(plain.sources.count == 4)
    #expect(plain.sources.map(\.group) == [0, 0, 1, 1])
    #expect(plain.sources[0].tokens == encode(" First note opens here."), "a sentence starts with a space")
    #expect(plain.sources[0].weight > plain.sources[1].weight, "a note's first sentence weighs most")
    #expect(plain.sources[0].weight > plain.sources[2].weight, "the first note weighs most")
    #expect(plain.contrastPromptTokens.isEmpty, "no contrast prompt unless context-aware decoding is on")
    // The second note is much closer to the question: it now outweighs the first.
    let close = TutoringService.grounding(
      .standard,
      notes: notes,
      similarities: [0.1, 0.1, 0.8, 0.2],
      contrastPromptTokens: [1],
      encode: encode
    )
    #expect(close.sources[2].weight > close.sources[0].weight)
    var cad = AnswerGrounding.off
    cad.contrastStrength = 0.5
    let contrast = TutoringService.grounding(
      cad,
      notes: notes,
      similarities: nil,
      contrastPromptTokens: [7, 8],
      encode: encode
    )
    #expect(contrast.sources.isEmpty && contrast.contrastPromptTokens == [7, 8])
    #expect(
      !TutoringService.grounding(
        .off,
        notes: notes,
        similarities: nil,
        contrastPromptTokens: [1],
        encode: encode
      ).isActive
    )
  }

  @Test func citationsFollowTheGivenOrderAndSkipUnknownIds() throws {
    let library = CurriculumLibrary.load(root: HybridRetrievalTests.curricula)
    let curriculum = try #require(library.curriculum("photosynthesis"))
    let ids = [
      curriculum.snippets[5].id, "photosynthesis/no-such-lesson#x", curriculum.snippets[0].id, "bad-id",
    ]
    let citations = curriculum.citations(ids)
    #expect(citations.map(\.snippetId) == [curriculum.snippets[5].id, curriculum.snippets[0].id])
    let note = curriculum.snippets[5]
    #expect(
      citations[0]
        == Citation(
          snippetId: note.id,
          lessonId: note.lessonId,
          lessonTitle: note.lessonTitle,
          heading: note.heading,
          text: note.text
        )
    )
  }

  @Test func answerQualityScores() {
    let dictionary: Set<String> = ["leaves", "are", "green", "because", "of", "chlorophyll", "the", "sun"]
    let note = "Leaves are green because of chlorophyll, a pigment."
    let good = AnswerQuality(
      answer: "Leaves are green because of chlorophyll.",
      relevantNotes: [note],
      dictionary: dictionary
    )
    #expect(good.words == 6)
    #expect(good.english == 1)
    #expect(good.grounded == 1, "content words: leaves, green, chlorophyll")
    #expect(good.distinctTrigrams == 1)
    #expect(!good.isUseful, "fewer than 8 words")
    let off = AnswerQuality(
      answer: "The sun zorbles the sun zorbles the sun zorbles.",
      relevantNotes: [note],
      dictionary: dictionary
    )
    #expect(off.grounded == 0)
    #expect(abs(off.english - 6.0 / 9.0) < 1e-9)
    #expect(off.distinctTrigrams < 0.5)
    #expect(
      AnswerQuality.words("Don't stop: 3/4 isn’t 0.75!") == ["don't", "stop", "3", "4", "isn't", "0", "75"]
    )
  }
}
