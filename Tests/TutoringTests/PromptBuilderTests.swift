import Curriculum
import Engine
import Foundation
import Testing
import TutorTestSupport

@testable import Tutoring

/// Prompt assembly and its token budget, counted with the real GPT-2 tokenizer.
@Suite struct PromptBuilderTests {
  static let tokenizer = Result {
    try GPT2Tokenizer.load(
      directory: Repository.tokenizer
    )
  }

  static func builder(template: String? = nil) throws -> PromptBuilder {
    let tokenizer = try tokenizer.get()
    return try PromptBuilder(template: template) { tokenizer.encode($0, allowSpecialTokens: false).count }
  }

  static func hit(_ id: String, _ text: String) -> SnippetHit {
    SnippetHit(id: id, score: 1, text: text, heading: "Heading \(id)", curriculumId: "c", lessonId: "l")
  }

  static let input = PromptBuilder.Input(
    curriculum: "Photosynthesis",
    lesson: "Plant Cells",
    objectives: ["Name the parts of a cell.", "Say what chlorophyll does."],
    snippets: [hit("a", "Chloroplasts are green."), hit("b", "Cell walls are made of cellulose.")],
    history: [
      ("What is a cell?", "The smallest unit of life."), ("Do plants have them?", "Yes, with walls."),
    ],
    question: "Why don't roots have <chloroplasts>?"
  )

  @Test func theDefaultPromptHoldsEverythingInOrder() throws {
    let prompt = try Self.builder().build(Self.input, contextLength: 2048, answerTokens: 200)
    let t = prompt.text
    #expect(prompt.snippetIds == ["a", "b"])
    #expect(prompt.turnsIncluded == 2)
    #expect(t.contains("\"Photosynthesis\"") && t.contains("Lesson: Plant Cells"))
    #expect(t.contains("Objectives:\n- Name the parts of a cell.\n- Say what chlorophyll does.\n\nNotes:"))
    #expect(t.range(of: "Chloroplasts are green.")!.lowerBound < t.range(of: "Cell walls")!.lowerBound)
    #expect(
      t.range(of: "Student: What is a cell?")!.lowerBound < t.range(of: "Student: Do plants")!.lowerBound
    )
    #expect(t.hasSuffix("Student: Why don't roots have <chloroplasts>?\nTutor:"))  // not HTML-escaped
    #expect(prompt.tokenCount == (try Self.tokenizer.get()).encode(t, allowSpecialTokens: false).count)
  }

  @Test func noSnippetsStillGivesAPrompt() throws {
    var input = Self.input
    input.snippets = []
    input.history = []
    let prompt = try Self.builder().build(input, contextLength: 2048, answerTokens: 200)
    #expect(prompt.snippetIds.isEmpty && prompt.turnsIncluded == 0)
    #expect(prompt.text.hasSuffix("Tutor:"))
  }

  @Test func aHugeQuestionIsRefused() throws {
    var input = Self.input
    input.question = String(repeating: "photosynthesis ", count: 400)
    #expect(throws: PromptBuilder.Error.self) {
      try Self.builder().build(input, contextLength: 512, answerTokens: 128)
    }
  }

  @Test func aLongHistoryKeepsTheNewestTurnsWithinTheBudget() throws {
    var input = Self.input
    input.snippets = []
    input.history = (0 ..< 60).map {
      ("Question number \($0) about cells?", "Answer number \($0): cells are small.")
    }
    let budget = (context: 400, answer: 100)
    let prompt = try Self.builder().build(input, contextLength: budget.context, answerTokens: budget.answer)
    #expect(prompt.tokenCount <= budget.context - budget.answer)
    #expect(prompt.turnsIncluded > 0 && prompt.turnsIncluded < 60)
    #expect(prompt.text.contains("Question number 59"))
    #expect(!prompt.text.contains("Question number \(59 - prompt.turnsIncluded) "))
    // One more turn would not have fitted.
    let more = try Self.builder().build(input, contextLength: 2048, answerTokens: 100)
    #expect(more.turnsIncluded > prompt.turnsIncluded)
  }

  @Test func aSnippetThatDoesNotFitIsSkippedForAShorterOne() throws {
    var input = Self.input
    input.history = []
    input.snippets = [
      Self.hit("short-1", "Leaves are green."),
      Self.hit("huge", String(repeating: "chlorophyll absorbs light ", count: 200)),
      Self.hit("short-2", "Roots are underground."),
    ]
    let prompt = try Self.builder().build(input, contextLength: 512, answerTokens: 128)
    #expect(prompt.snippetIds == ["short-1", "short-2"])
    #expect(prompt.tokenCount <= 384)
  }

  @Test func aCurriculumTemplateReplacesTheDefault() throws {
    let builder = try Self.builder(
      template: "Course {{curriculum}}. {{#snippets}}[{{id}}]{{/snippets}}\nQ: {{question}}\nA:"
    )
    let prompt = try builder.build(Self.input, contextLength: 2048, answerTokens: 100)
    #expect(prompt.text == "Course Photosynthesis. [a][b]\nQ: Why don't roots have <chloroplasts>?\nA:")
    #expect(throws: PromptBuilder.Error.self) { try Self.builder(template: "{{#open}}") }
  }
}
