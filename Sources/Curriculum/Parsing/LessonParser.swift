import Foundation
import Yams

/// Reads one `lessons/<id>.md` file: front matter, exercises and snippets.
struct LessonParser {
  let curriculumId: String
  let options: SnippetOptions
  let sink: DiagnosticSink

  static let knownKeys = [
    "id", "title", "objectives", "prerequisites", "key_terms", "exercises", "student_questions",
  ]
  static let exerciseKeys = ["id", "prompt", "answer", "hints", "objective", "explanation"]
  static let answerKinds = ["exact", "numeric", "tolerance", "choices", "correct", "regex"]

  /// Prerequisite ids with the node each came from, for diagnostics after all lessons are read.
  struct Parsed {
    var lesson: Lesson
    var prerequisiteNodes: [(String, Node)]
    var source: YAMLSource
    var exerciseNodes: [(String, Node)]
  }

  func parse(file: String, expectedId: String) -> Parsed? {
    guard let text = TextFile.read(file, sink: sink) else { return nil }
    guard let doc = FrontMatterDocument(text: text) else {
      sink.error(
        "a lesson starts with YAML front matter between two '---' lines (id, title, objectives, ...)",
        file: file
      )
      return nil
    }
    let source = YAMLSource(file: file, lineOffset: doc.yamlLineOffset)
    guard let root = source.compose(doc.yaml, sink: sink) else {
      if !sink.hasErrors {
        sink.error("the front matter is empty; it needs at least 'id' and 'title'", file: file)
      }
      return nil
    }
    guard let fields = YAMLFields(root, source: source, sink: sink, what: "the front matter") else {
      return nil
    }
    fields.reportUnknownKeys(Self.knownKeys, in: "lesson front matter")

    let id = fields.string("id", required: true, in: "the lesson") ?? expectedId
    if id != expectedId {
      fields.error(
        "lesson id '\(id)' does not match its file name '\(expectedId).md'",
        at: fields.value("id")
      )
    }
    let title = fields.string("title", required: true, in: "the lesson") ?? id

    var objectives: [Objective] = []
    for o in fields.mappings("objectives", what: "an objective") {
      o.reportUnknownKeys(["id", "text", "mastery"], in: "an objective")
      guard let oid = o.string("id", required: true, in: "the objective"),
        let text = o.string("text", required: true, in: "the objective")
      else { continue }
      if objectives.contains(where: { $0.id == oid }) {
        o.error("duplicate objective id '\(oid)'", at: o.value("id"))
        continue
      }
      let mastery = o.value("mastery").flatMap { CurriculumParser.mastery($0, source: source, sink: sink) }
      objectives.append(Objective(id: oid, text: text, mastery: mastery))
    }

    let prerequisites = fields.strings("prerequisites")
    let keyTerms = fields.strings("key_terms").map(\.0)

    var exercises: [Exercise] = []
    var exerciseNodes: [(String, Node)] = []
    var exerciseIds: Set<String> = []
    for e in fields.mappings("exercises", what: "an exercise") {
      e.reportUnknownKeys(Self.exerciseKeys, in: "an exercise")
      guard let eid = e.string("id", required: true, in: "the exercise") else { continue }
      guard exerciseIds.insert(eid).inserted else {
        e.error("duplicate exercise id '\(eid)'", at: e.value("id"))
        continue
      }
      let prompt = e.string("prompt", required: true, in: "exercise '\(eid)'") ?? ""
      guard let answerNode = e.value("answer") else {
        e.error(
          "exercise '\(eid)' has no answer; add 'answer:' (exact, numeric, choices or regex)",
          at: e.keyNode("id")
        )
        continue
      }
      guard let answer = parseAnswer(answerNode, source: source, exercise: eid) else { continue }
      let objective = e.string("objective", in: "exercise '\(eid)'")
      if let objective, !objectives.contains(where: { $0.id == objective }) {
        e.error(
          "exercise '\(eid)' assesses objective '\(objective)', which this lesson does not define"
            + didYouMean(objective, among: objectives.map(\.id)),
          at: e.value("objective")
        )
      }
      exercises.append(
        Exercise(
          id: eid,
          prompt: prompt,
          answer: answer,
          hints: e.strings("hints").map(\.0),
          objective: objective,
          explanation: e.string("explanation", in: "exercise '\(eid)'")
        )
      )
      exerciseNodes.append((eid, e.value("id") ?? root))
    }

    // Body → snippets.
    let sections = MarkdownSections.split(doc.body, firstLine: doc.bodyFirstLine)
    if sections.allSatisfy({ $0.text.isEmpty }) {
      sink.error(
        "lesson '\(id)' has no content: write its explanation below the front matter",
        file: file,
        line: doc.bodyFirstLine
      )
    }
    var snippets: [Snippet] = []
    var used: Set<String> = []
    var sectionIds: [String] = []
    for section in sections {
      guard !section.text.isEmpty else {
        if let heading = section.heading {
          sink.warning("section '\(heading)' is empty", file: file, line: section.line)
        }
        continue
      }
      let heading = section.heading ?? title
      var slug = section.heading.map(MarkdownSections.slug) ?? "introduction"
      if used.contains(slug) {
        sink.warning(
          "two sections are named '\(heading)'; the second gets a numbered id",
          file: file,
          line: section.line
        )
        var n = 2
        while used.contains("\(slug)-\(n)") { n += 1 }
        slug = "\(slug)-\(n)"
      }
      used.insert(slug)
      sectionIds.append(slug)
      let parts = MarkdownSections.chunks(
        section.text,
        maxTokens: options.maxTokens,
        count: options.countTokens
      )
      for (i, part) in parts.enumerated() {
        let partSlug = i == 0 ? slug : "\(slug)-part-\(i + 1)"
        used.insert(partSlug)
        snippets.append(
          Snippet(
            id: "\(curriculumId)/\(id)#\(partSlug)",
            curriculumId: curriculumId,
            lessonId: id,
            lessonTitle: title,
            heading: heading,
            text: part,
            keyTerms: keyTerms,
            line: section.line
          )
        )
      }
    }
    let asked = studentQuestions(fields, sections: sectionIds)
    for i in snippets.indices {
      let section = snippets[i].id.split(separator: "#").last.map(String.init) ?? ""
      let base = section.range(of: "-part-", options: .backwards).map { String(section[..<$0.lowerBound]) }
      snippets[i].studentQuestions = asked[section] ?? base.flatMap { asked[$0] } ?? []
    }

    let lesson = Lesson(
      id: id,
      title: title,
      objectives: objectives,
      prerequisites: prerequisites.map(\.0),
      keyTerms: keyTerms,
      exercises: exercises,
      body: doc.body,
      snippets: snippets,
      file: file
    )
    return Parsed(
      lesson: lesson,
      prerequisiteNodes: prerequisites,
      source: source,
      exerciseNodes: exerciseNodes
    )
  }

  /// `student_questions:`, a mapping from a section's id (its heading as a slug, the part after
  /// `#` in a snippet id) to questions as students word them; every part of a long section gets
  /// its section's. Unknown sections and empty questions are errors.
  func studentQuestions(_ fields: YAMLFields, sections: [String]) -> [String: [String]] {
    guard let node = fields.value("student_questions") else { return [:] }
    guard
      let table = YAMLFields(
        node,
        source: fields.source,
        sink: sink,
        what: "'student_questions' (section id: [questions])"
      )
    else { return [:] }
    var asked: [String: [String]] = [:]
    for (section, keyNode) in table.entries {
      guard sections.contains(section) else {
        table.error(
          "'student_questions' names section '\(section)', which this lesson does not have"
            + didYouMean(section, among: sections) + " (a section's id is its heading as a slug)",
          at: keyNode
        )
        continue
      }
      var questions: [String] = []
      for (question, node) in table.strings(section) {
        let text = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
          table.error("a student question of section '\(section)' is empty", at: node)
          continue
        }
        questions.append(text)
      }
      asked[section, default: []] += questions
    }
    return asked
  }

  /// `answer: text`, or a mapping with one of `exact`, `numeric` (+ `tolerance`), `choices` +
  /// `correct`, `regex`.
  func parseAnswer(_ node: Node, source: YAMLSource, exercise: String) -> Answer? {
    if case .scalar(let s) = node {
      guard !s.string.trimmingCharacters(in: .whitespaces).isEmpty else {
        let p = source.position(node)
        sink.error(
          "exercise '\(exercise)' has an empty answer",
          file: source.file,
          line: p.line,
          column: p.column
        )
        return nil
      }
      return .exact([s.string])
    }
    guard let a = YAMLFields(node, source: source, sink: sink, what: "an answer") else { return nil }
    a.reportUnknownKeys(Self.answerKinds, in: "an answer")
    let kinds = ["exact", "numeric", "choices", "regex"].filter { a.value($0) != nil }
    guard kinds.count == 1 else {
      a.error(
        kinds.isEmpty
          ? "exercise '\(exercise)' has no answer: give one of 'exact', 'numeric', 'choices' or 'regex'"
          : "exercise '\(exercise)' gives several kinds of answer (\(kinds.joined(separator: ", "))); keep one",
        at: nil
      )
      return nil
    }
    switch kinds[0] {
    case "exact":
      let texts = a.strings("exact").map(\.0).filter { !$0.isEmpty }
      guard !texts.isEmpty else {
        a.error("exercise '\(exercise)' has an empty 'exact' answer", at: a.value("exact"))
        return nil
      }
      return .exact(texts)
    case "numeric":
      let raw = a.value("numeric")
      guard let value = raw?.float ?? raw?.int.map(Double.init) ?? raw?.string.flatMap(Answer.parseNumber)
      else {
        a.error("'numeric' must be a number such as 0.75 or 3/4", at: raw)
        return nil
      }
      let tolerance = a.double("tolerance", in: 0 ... Double.greatestFiniteMagnitude) ?? 0
      return .numeric(value: value, tolerance: tolerance)
    case "choices":
      let choices = a.strings("choices").map(\.0)
      let correct = a.strings("correct")
      if choices.count < 2 { a.error("'choices' needs at least two options", at: a.value("choices")) }
      if correct.isEmpty {
        a.error("exercise '\(exercise)' lists choices but no 'correct' one", at: a.value("choices"))
        return nil
      }
      for (c, n) in correct where !choices.contains(where: { Answer.normalise($0) == Answer.normalise(c) }) {
        a.error("correct answer '\(c)' is not one of the choices" + didYouMean(c, among: choices), at: n)
      }
      return .choice(choices: choices, correct: correct.map(\.0))
    default:
      guard let pattern = a.string("regex", required: true, in: "the answer") else { return nil }
      do {
        _ = try NSRegularExpression(pattern: pattern)
      } catch {
        a.error(
          "invalid regular expression '\(pattern)': \(error.localizedDescription)",
          at: a.value("regex")
        )
        return nil
      }
      return .regex(pattern)
    }
  }
}
