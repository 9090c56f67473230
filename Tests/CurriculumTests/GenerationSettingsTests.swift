import Foundation
import Testing

@testable import Curriculum

/// The grounded-decoding settings of `generation:` in curriculum.yaml.
@Suite struct GenerationSettingsTests {
  @Test func groundingSettingsAreReadAndCheckedWithTheirLine() throws {
    let ws = try LintTests.Workspace([
      "good/curriculum.yaml": LintTests.goodCurriculum + """

        generation:
          copy_bias: 12.5
          contrast_strength: 0.5
          no_repeat_ngram_size: 4
          end_at_sentence: false
          max_sentences: 3
        """,
      "good/lessons/intro.md": LintTests.goodLesson,
      "bad/curriculum.yaml": """
      id: bad
      title: Bad
      lessons: [intro]
      generation:
        copy_bias: -1
        end_at_sentence: maybe
        max_sentences: 2.5
      """,
      "bad/lessons/intro.md": LintTests.goodLesson,
    ])
    let library = CurriculumLibrary.load(root: ws.root.path)
    let good = try #require(library.curriculum("good"))
    #expect(
      good.generation
        == GenerationDefaults(
          copyBias: 12.5,
          contrastStrength: 0.5,
          noRepeatNGramSize: 4,
          endAtSentence: false,
          maxSentences: 3
        )
    )
    let diagnostics = library.diagnostics
    let bad = ws.path("bad/curriculum.yaml")
    #expect(LintTests.find(diagnostics, bad, line: 5, "'copy_bias' must be between") != nil)
    #expect(LintTests.find(diagnostics, bad, line: 6, "'end_at_sentence' must be true or false") != nil)
    #expect(LintTests.find(diagnostics, bad, line: 7, "'max_sentences' must be a whole number") != nil)
  }
}
