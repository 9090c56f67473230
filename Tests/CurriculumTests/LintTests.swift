import Foundation
import Testing

@testable import Curriculum

/// Validation: every problem reported at its file, line and column, all in one run.
@Suite struct LintTests {
  /// A temporary folder of curricula built from file contents.
  final class Workspace {
    let root: URL
    init(_ files: [String: String]) throws {
      root = FileManager.default.temporaryDirectory.appendingPathComponent("curricula-\(UUID().uuidString)")
      for (path, text) in files { try write(path, Data(text.utf8)) }
    }
    func write(_ path: String, _ data: Data) throws {
      let url = root.appendingPathComponent(path)
      try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(),
        withIntermediateDirectories: true
      )
      try data.write(to: url)
    }
    func path(_ p: String) -> String { root.appendingPathComponent(p).path }
    deinit { try? FileManager.default.removeItem(at: root) }
  }

  static let goodLesson = """
    ---
    id: intro
    title: Introduction
    objectives:
      - id: o1
        text: Know things.
    exercises:
      - id: e1
        prompt: What is 1 + 1?
        answer: {numeric: 2}
        objective: o1
    ---

    ## Start here

    Some words about the topic.
    """

  static let goodCurriculum = """
    id: good
    title: A Good Course
    lessons: [intro]
    """

  /// The diagnostic at `file:line` whose message contains `text`.
  static func find(
    _ diagnostics: [CurriculumDiagnostic],
    _ file: String,
    line: Int,
    _ text: String,
    severity: CurriculumDiagnostic.Severity = .error
  ) -> CurriculumDiagnostic? {
    diagnostics.first {
      $0.file == file && $0.line == line && $0.message.contains(text) && $0.severity == severity
    }
  }

  @Test func aValidCurriculumLoadsWithNoDiagnostics() throws {
    let ws = try Workspace([
      "good/curriculum.yaml": Self.goodCurriculum, "good/lessons/intro.md": Self.goodLesson,
    ])
    let library = CurriculumLibrary.load(root: ws.root.path)
    #expect(library.diagnostics.isEmpty, "\(library.diagnostics)")
    let c = try #require(library.curriculum("good"))
    let lesson = try #require(c.lesson("intro"))
    #expect(lesson.snippets.map(\.id) == ["good/intro#start-here"])
    #expect(lesson.snippets.first?.line == 14)
    #expect(lesson.exercises.first?.answer.accepts("2") == true)
  }

  @Test func everyProblemIsReportedWithItsPosition() throws {
    let ws = try Workspace([
      "bad/curriculum.yaml": """
      id: bad
      title: Broken Course
      lessns: [x]
      lessons:
        - first
        - second
        - first
        - ghost
        - third
      prompt_template: missing.mustache
      """,
      "bad/lessons/first.md": """
      ---
      id: first
      title: First
      prerequisites: [secnd]
      objectives:
        - id: know
          text: Know it.
      exercises:
        - id: q1
          prompt: No answer here.
          objective: know
        - id: q2
          prompt: Bad pattern.
          answer: {regex: "([a-z"}
        - id: q3
          prompt: Wrong objective.
          answer: yes
          objective: knwo
        - id: q1
          prompt: Duplicate.
          answer: x
      ---

      ## Body

      Text.
      """,
      "bad/lessons/second.md": """
      ---
      id: second
      title: Second
      prerequisites: [third]
      ---

      """,
      "bad/lessons/third.md": """
      ---
      id: third
      title: Third
      prerequisites: [second]
      ---
      Body.
      """,
      "bad/lessons/stray.md": "---\nid: stray\ntitle: Stray\n---\nText.\n",
    ])
    let library = CurriculumLibrary.load(root: ws.root.path)
    let d = library.diagnostics
    let yaml = ws.path("bad/curriculum.yaml")
    let first = ws.path("bad/lessons/first.md")
    let second = ws.path("bad/lessons/second.md")
    #expect(library.curricula.isEmpty)
    #expect(library.skipped.count == 1)

    let unknownKey = try #require(Self.find(d, yaml, line: 3, "unknown key 'lessns'", severity: .warning))
    #expect(unknownKey.message.contains("did you mean 'lessons'?"))
    #expect(unknownKey.column == 1)
    #expect(Self.find(d, yaml, line: 7, "lesson 'first' is listed twice") != nil)
    #expect(
      Self.find(d, yaml, line: 8, "lesson 'ghost' is listed but lessons/ghost.md does not exist") != nil
    )
    #expect(Self.find(d, yaml, line: 10, "prompt_template 'missing.mustache' does not exist") != nil)
    #expect(Self.find(d, ws.path("bad/lessons/stray.md"), line: 1, "not listed", severity: .warning) != nil)

    let prerequisite = try #require(Self.find(d, first, line: 4, "unknown prerequisite 'secnd'"))
    #expect(prerequisite.message.contains("did you mean 'second'?"))
    #expect(prerequisite.column == 17)
    #expect(Self.find(d, first, line: 9, "exercise 'q1' has no answer") != nil)
    #expect(Self.find(d, first, line: 14, "invalid regular expression '([a-z'") != nil)
    let objective = try #require(
      Self.find(d, first, line: 18, "assesses objective 'knwo', which this lesson does not define")
    )
    #expect(objective.message.contains("did you mean 'know'?"))
    #expect(Self.find(d, first, line: 19, "duplicate exercise id 'q1'") != nil)
    #expect(Self.find(d, second, line: 6, "lesson 'second' has no content") != nil)
    let cycle = try #require(d.first { $0.message.hasPrefix("prerequisites form a cycle") })
    #expect(
      cycle.message.hasSuffix("second → third → second") || cycle.message.hasSuffix("third → second → third")
    )
    #expect(d.filter { $0.message.hasPrefix("prerequisites form a cycle") }.count == 1)
    // Diagnostics print as file:line:column: severity: message.
    #expect(
      unknownKey.description
        == "\(yaml):3:1: warning: unknown key 'lessns' in curriculum.yaml; did you mean 'lessons'?"
    )
  }

  @Test func yamlSyntaxAndEncodingErrorsArePinpointed() throws {
    var invalid = Data("---\nid: enc\ntitle: Caf".utf8)
    invalid.append(contentsOf: [0xE9, 0x0A])  // Latin-1 é
    invalid.append(Data("---\nBody\n".utf8))
    let ws = try Workspace([
      "syntax/curriculum.yaml": "id: syntax\ntitle: [unclosed\nlessons: [a]\n",
      "enc/curriculum.yaml": "id: enc\ntitle: Encoding\nlessons: [enc]\n",
      "good/curriculum.yaml": Self.goodCurriculum,
      "good/lessons/intro.md": Self.goodLesson,
      "front/curriculum.yaml": "id: front\ntitle: Front\nlessons: [nofront]\n",
      "front/lessons/nofront.md": "Just text, no front matter.\n",
    ])
    try ws.write("enc/lessons/enc.md", invalid)
    let library = CurriculumLibrary.load(root: ws.root.path)
    let d = library.diagnostics
    #expect(
      d.contains {
        $0.file == ws.path("syntax/curriculum.yaml") && $0.message.hasPrefix("YAML syntax error")
          && $0.line >= 2
      }
    )
    let encoding = try #require(d.first { $0.file == ws.path("enc/lessons/enc.md") })
    #expect(encoding.message.contains("not valid UTF-8"))
    #expect(encoding.line == 3 && encoding.column == 11)
    #expect(
      d.contains { $0.file == ws.path("front/lessons/nofront.md") && $0.message.contains("front matter") }
    )
    // The broken curricula are skipped; the good one is served.
    #expect(library.curricula.map(\.id) == ["good"])
    #expect(library.skipped.count == 3)
  }

  @Test func mustacheTemplateErrorsPointIntoTheTemplate() throws {
    let ws = try Workspace([
      "t/curriculum.yaml": "id: t\ntitle: T\nlessons: [intro]\nprompt_template: prompt.mustache\n",
      "t/lessons/intro.md": Self.goodLesson.replacingOccurrences(of: "id: intro", with: "id: intro"),
      "t/prompt.mustache": "Hello {{#lesson}}\n{{title}}\n{{/lessen}}\n",
    ])
    let d = CurriculumLibrary.load(root: ws.root.path).diagnostics
    #expect(
      d.contains {
        $0.file == ws.path("t/prompt.mustache") && $0.message.contains("invalid Mustache template")
      }
    )
  }

  @Test func theShippedCurriculaAreClean() throws {
    let library = CurriculumLibrary.load(root: RetrievalTests.curricula)
    #expect(library.diagnostics.isEmpty, "\(library.diagnostics.map(\.description).joined(separator: "\n"))")
    #expect(library.curricula.count >= 3)
    for c in library.curricula {
      #expect(c.lessons.count >= 8, "\(c.id)")
      for lesson in c.lessons {
        #expect(lesson.exercises.count >= 3, "\(c.id)/\(lesson.id)")
        #expect(!lesson.objectives.isEmpty, "\(c.id)/\(lesson.id)")
        #expect(!lesson.snippets.isEmpty)
      }
      #expect(c.lessons.contains { !$0.prerequisites.isEmpty })
    }
  }

  /// The minimal example in curricula/README.md is a valid curriculum.
  @Test func theDocumentedExampleIsValid() throws {
    let readme = try String(
      contentsOfFile: RetrievalTests.curricula + "/README.md",
      encoding: .utf8
    )
    func block(after marker: String) throws -> String {
      let start = try #require(readme.range(of: marker))
      let fence = try #require(readme.range(of: "```", range: start.upperBound ..< readme.endIndex))
      let bodyStart = try #require(readme.range(of: "\n", range: fence.upperBound ..< readme.endIndex))
      let end = try #require(readme.range(of: "```", range: bodyStart.upperBound ..< readme.endIndex))
      return String(readme[bodyStart.upperBound ..< end.lowerBound])
    }
    let ws = try Workspace([
      "tides/curriculum.yaml": try block(after: "`curricula/tides/curriculum.yaml`:"),
      "tides/lessons/the-moon.md": try block(after: "`curricula/tides/lessons/the-moon.md`:"),
    ])
    let library = CurriculumLibrary.load(root: ws.root.path)
    #expect(library.diagnostics.isEmpty, "\(library.diagnostics)")
    #expect(
      library.curriculum("tides")?.lesson("the-moon")?.exercises.first?.answer.accepts("The Moon") == true
    )
  }

  @Test func studentQuestionsBelongToTheirSectionAndItsParts() throws {
    let long = (1 ... 40).map { "Paragraph \($0) says a good deal about the moon and the sea." }
    let ws = try Workspace([
      "good/curriculum.yaml": Self.goodCurriculum,
      "good/lessons/intro.md": """
      ---
      id: intro
      title: Introduction
      student_questions:
        start-here:
          - what even is this
          - "  why does the sea move  "
        long-one: [is the moon pulling]
      ---

      ## Start here

      Some words about the topic.

      ## Long one

      \(long.joined(separator: "\n\n"))
      """,
    ])
    let library = CurriculumLibrary.load(root: ws.root.path)
    #expect(library.diagnostics.isEmpty, "\(library.diagnostics)")
    let snippets = try #require(library.curriculum("good")?.lesson("intro")?.snippets)
    #expect(snippets.first?.studentQuestions == ["what even is this", "why does the sea move"])
    let parts = snippets.filter { $0.id.hasPrefix("good/intro#long-one") }
    #expect(parts.count > 1)
    #expect(parts.allSatisfy { $0.studentQuestions == ["is the moon pulling"] })
  }

  @Test func studentQuestionsForAMissingSectionAreAnError() throws {
    let ws = try Workspace([
      "good/curriculum.yaml": Self.goodCurriculum,
      "good/lessons/intro.md": """
      ---
      id: intro
      title: Introduction
      student_questions:
        start-her: [what is it]
        start-here: ["", ok then]
      ---

      ## Start here

      Some words about the topic.
      """,
    ])
    let library = CurriculumLibrary.load(root: ws.root.path)
    let file = ws.path("good/lessons/intro.md")
    let missing = Self.find(library.diagnostics, file, line: 5, "names section 'start-her'")
    #expect(missing?.message.contains("did you mean 'start-here'") == true, "\(library.diagnostics)")
    #expect(Self.find(library.diagnostics, file, line: 6, "is empty") != nil, "\(library.diagnostics)")
  }
}
