import Foundation
import Testing
import TutorBench

@testable import Curriculum

/// Answers, snippets and the index's behaviour.
@Suite struct ModelTests {
  @Test(arguments: [
    (Answer.exact(["Carbon Dioxide", "CO2"]), "  carbon   dioxide ", true),
    (Answer.exact(["Carbon Dioxide", "CO2"]), "co2", true),
    (Answer.exact(["Carbon Dioxide"]), "oxygen", false),
    (Answer.numeric(value: 0.75, tolerance: 0.001), "3/4", true),
    (Answer.numeric(value: 0.75, tolerance: 0.001), "0.75", true),
    (Answer.numeric(value: 0.75, tolerance: 0.001), "75%", true),
    (Answer.numeric(value: 0.75, tolerance: 0.001), "0.7", false),
    (Answer.numeric(value: 4.25, tolerance: 0.001), "4 1/4", true),
    (Answer.numeric(value: -1.5, tolerance: 0), "-1 1/2", true),
    (Answer.numeric(value: 1000, tolerance: 0), "1,000", true),
    (Answer.numeric(value: 2, tolerance: 0), "two", false),
    (Answer.numeric(value: 2, tolerance: 0), "1/0", false),
    (Answer.choice(choices: ["xylem", "phloem"], correct: ["xylem"]), "Xylem", true),
    (Answer.choice(choices: ["xylem", "phloem"], correct: ["xylem"]), "phloem", false),
    (Answer.regex("2\\s*/\\s*3"), " 2 / 3 ", true),
    (Answer.regex("2\\s*/\\s*3"), "12/3", false),
  ])
  func answersAreChecked(answer: Answer, response: String, correct: Bool) {
    #expect(answer.accepts(response) == correct)
  }

  @Test func sectionsBecomeSnippetsWithStableIdsAndLongOnesSplit() {
    let body = """
      Intro text before headings.

      ## What is it?

      First paragraph.

      ```python
      # a comment, not a heading

      print("x")
      ```

      ### Details ###

      One.

      Two.

      Three.

      ## What is it?

      Again.
      """
    let sections = MarkdownSections.split(body, firstLine: 10)
    #expect(sections.map(\.heading) == [nil, "What is it?", "Details", "What is it?"])
    #expect(sections.map(\.line) == [10, 12, 22, 30])
    #expect(sections[1].text.contains("# a comment, not a heading"))
    #expect(MarkdownSections.slug("Fractions, Decimals & Percentages!") == "fractions-decimals-percentages")
    #expect(MarkdownSections.slug("\"Of\" means multiply") == "of-means-multiply")
    // Token budget of 2 words per part: paragraphs are kept whole, code blocks unsplit.
    let parts = MarkdownSections.chunks("One two.\n\nThree four.\n\nFive.", maxTokens: 2) {
      $0.split(whereSeparator: \.isWhitespace).count
    }
    #expect(parts == ["One two.", "Three four.", "Five."])
    let fenced = MarkdownSections.chunks("```\na\n\nb\n```\n\nc d e", maxTokens: 1) {
      $0.split(whereSeparator: \.isWhitespace).count
    }
    #expect(fenced == ["```\na\n\nb\n```", "c d e"])
  }

  @Test func queriesAreSafeAgainstFTSSyntax() throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let index = SnippetIndex(library: library)
    for query in ["\"unbalanced", "NEAR(a b)", "a OR", "* ^ -", "col:umn", "", "   ", "the of and"] {
      _ = index.search(query, limit: 3)
    }
    #expect(index.search("", limit: 3).isEmpty)
    #expect(QueryAnalyzer.matchExpression("What is 20% of 3/4?")?.contains("\"percent\"") == true)
  }

  @Test func filtersAndLessonBoosts() throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let index = SnippetIndex(library: library)
    let all = index.search("light energy", limit: 10)
    #expect(!all.isEmpty)
    #expect(
      index.search("light energy", curriculum: "python-intro", limit: 10).allSatisfy {
        $0.curriculumId == "python-intro"
      }
    )
    // Favouring a lesson moves its snippets up without hiding the others.
    let plain = index.search("energy", curriculum: "photosynthesis", limit: 5)
    let favoured = index.search("energy", curriculum: "photosynthesis", lesson: "respiration", limit: 5)
    #expect(favoured.first?.lessonId == "respiration")
    #expect(plain.map(\.id) != favoured.map(\.id))
    #expect(zip(favoured, favoured.dropFirst()).allSatisfy { $0.score >= $1.score })
  }

  @Test func theIndexFileIsReusedUntilTheCurriculaChange() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("index-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("snippets.sqlite").path
    var library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    let first = try FTS5SnippetIndex(library: library, path: path)
    let count = first.snippetCount
    #expect(count == library.curricula.flatMap(\.snippets).count)
    let reopened = try FTS5SnippetIndex(library: library, path: path)
    #expect(reopened.fingerprint == first.fingerprint)
    // Change one snippet's text: a new fingerprint, and the index follows.
    library.curricula[0].lessons[0].snippets[0].text += " zyzzyva"
    let changed = try FTS5SnippetIndex(library: library, path: path)
    #expect(changed.fingerprint != first.fingerprint)
    #expect(
      try changed.search("zyzzyva", limit: 1).first?.id == library.curricula[0].lessons[0].snippets[0].id
    )
  }
}
