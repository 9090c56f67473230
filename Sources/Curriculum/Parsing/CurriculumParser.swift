import Foundation
import Mustache
import Yams

/// Reads and validates one curriculum folder: `curriculum.yaml`, `lessons/*.md` and the optional
/// prompt template. Every problem is reported; the curriculum is returned only without errors.
struct CurriculumParser {
  let directory: String
  let options: SnippetOptions
  let sink = DiagnosticSink()

  static let knownKeys = [
    "id", "title", "description", "audience", "level", "language", "version", "lessons", "prompt_template",
    "generation", "mastery", "synonyms", "safety", "pedagogy",
  ]

  func parse() -> Course? {
    let fm = FileManager.default
    let folder = URL(fileURLWithPath: directory).lastPathComponent
    let file = (directory as NSString).appendingPathComponent("curriculum.yaml")
    guard fm.fileExists(atPath: file) else {
      sink.error("no curriculum.yaml in this folder", file: file)
      return nil
    }
    guard let text = TextFile.read(file, sink: sink) else { return nil }
    let source = YAMLSource(file: file, lineOffset: 0)
    guard let root = source.compose(text, sink: sink) else {
      if !sink.hasErrors {
        sink.error("curriculum.yaml is empty; it needs id, title and lessons", file: file)
      }
      return nil
    }
    guard let fields = YAMLFields(root, source: source, sink: sink, what: "curriculum.yaml") else {
      return nil
    }
    fields.reportUnknownKeys(Self.knownKeys, in: "curriculum.yaml")

    let id = fields.string("id", required: true, in: "curriculum.yaml") ?? folder
    if !Self.isValidId(id) {
      fields.error("id '\(id)' must be lowercase letters, digits, '-' or '_'", at: fields.value("id"))
    } else if id != folder {
      fields.error("id '\(id)' does not match the folder name '\(folder)'", at: fields.value("id"))
    }
    let title = fields.string("title", required: true, in: "curriculum.yaml") ?? id
    let description = fields.string("description", in: "curriculum.yaml") ?? ""
    let language = fields.string("language", in: "curriculum.yaml") ?? "en"
    let version = fields.string("version", in: "curriculum.yaml") ?? "1"

    var generation = GenerationDefaults()
    if let g = fields.value("generation"),
      let gf = YAMLFields(g, source: source, sink: sink, what: "'generation'")
    {
      gf.reportUnknownKeys(
        [
          "max_new_tokens", "temperature", "copy_bias", "contrast_strength", "no_repeat_ngram_size",
          "end_at_sentence",
          "max_sentences",
        ],
        in: "'generation'"
      )
      generation.maxNewTokens = gf.int("max_new_tokens", in: 1 ... 4096)
      generation.temperature = gf.double("temperature", in: 0 ... 5)
      generation.copyBias = gf.double("copy_bias", in: 0 ... 100)
      generation.contrastStrength = gf.double("contrast_strength", in: 0 ... 10)
      generation.noRepeatNGramSize = gf.int("no_repeat_ngram_size", in: 0 ... 16)
      generation.endAtSentence = gf.bool("end_at_sentence")
      generation.maxSentences = gf.int("max_sentences", in: 0 ... 100)
    }
    let mastery =
      fields.value("mastery").flatMap { Self.mastery($0, source: source, sink: sink) } ?? MasteryParameters()

    // synonyms: {term: [word students use, ...]} → word → [terms].
    var synonyms: [String: [String]] = [:]
    if let node = fields.value("synonyms"),
      let map = YAMLFields(node, source: source, sink: sink, what: "'synonyms'")
    {
      for (term, _) in map.entries {
        for (alias, aliasNode) in map.strings(term) {
          let word = alias.lowercased().trimmingCharacters(in: .whitespaces)
          if word.isEmpty || word.contains(where: { !($0.isLetter || $0.isNumber) }) {
            map.error("synonym '\(alias)' for '\(term)' must be a single word", at: aliasNode)
          } else {
            synonyms[word, default: []].append(term)
          }
        }
      }
    }

    var safetyReply: String?
    if let node = fields.value("safety"),
      let safety = YAMLFields(node, source: source, sink: sink, what: "'safety'")
    {
      safety.reportUnknownKeys(["reply"], in: "'safety'")
      safetyReply = safety.string("reply", in: "'safety'")
      if let reply = safetyReply, reply.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        safety.error("'safety' reply is empty; leave it out to use the server's", at: safety.value("reply"))
      }
    }
    var pedagogy = Pedagogy.socratic
    if let name = fields.string("pedagogy", in: "curriculum.yaml") {
      if let chosen = Pedagogy(rawValue: name) {
        pedagogy = chosen
      } else {
        fields.error(
          "pedagogy '\(name)' is not one of " + Pedagogy.allCases.map(\.rawValue).joined(separator: ", "),
          at: fields.value("pedagogy")
        )
      }
    }

    // The prompt template must exist and parse.
    var promptTemplate: String?
    if let name = fields.string("prompt_template", in: "curriculum.yaml") {
      let path = (directory as NSString).appendingPathComponent(name)
      if !fm.fileExists(atPath: path) {
        fields.error(
          "prompt_template '\(name)' does not exist in \(directory)",
          at: fields.value("prompt_template")
        )
      } else if let template = TextFile.read(path, sink: sink) {
        do {
          _ = try MustacheTemplate(string: template)
          promptTemplate = template
        } catch let error as MustacheTemplate.ParserError {
          sink.error(
            "invalid Mustache template: \(error.error)",
            file: path,
            line: error.context.lineNumber,
            column: error.context.columnNumber
          )
        } catch {
          sink.error("invalid Mustache template: \(error)", file: path)
        }
      }
    }

    // Lessons: listed ↔ present, parsed in order.
    let listed = fields.strings("lessons")
    if fields.value("lessons") != nil, listed.isEmpty {
      fields.error("'lessons' lists no lesson", at: fields.value("lessons"))
    } else if fields.value("lessons") == nil {
      fields.error(
        "curriculum.yaml is missing required key 'lessons' (the lesson ids in teaching order)",
        at: nil
      )
    }
    let lessonsDir = (directory as NSString).appendingPathComponent("lessons")
    let present = Set(
      ((try? fm.contentsOfDirectory(atPath: lessonsDir)) ?? []).filter { $0.hasSuffix(".md") }.map {
        String($0.dropLast(3))
      }
    )
    var seen: Set<String> = []
    var parsed: [LessonParser.Parsed] = []
    let lessonParser = LessonParser(curriculumId: id, options: options, sink: sink)
    for (lessonId, node) in listed {
      guard seen.insert(lessonId).inserted else {
        fields.error("lesson '\(lessonId)' is listed twice", at: node)
        continue
      }
      guard present.contains(lessonId) else {
        fields.error(
          "lesson '\(lessonId)' is listed but lessons/\(lessonId).md does not exist"
            + didYouMean(lessonId, among: present.subtracting(listed.map(\.0))),
          at: node
        )
        continue
      }
      let path = (lessonsDir as NSString).appendingPathComponent("\(lessonId).md")
      if let lesson = lessonParser.parse(file: path, expectedId: lessonId) { parsed.append(lesson) }
    }
    for stray in present.subtracting(seen).sorted() {
      sink.warning(
        "lessons/\(stray).md is not listed in curriculum.yaml 'lessons' and will not be taught",
        file: (lessonsDir as NSString).appendingPathComponent("\(stray).md")
      )
    }

    checkPrerequisites(parsed)
    checkExerciseIdsAreUnique(parsed)

    guard !sink.hasErrors else { return nil }
    return Course(
      id: id,
      title: title,
      description: description,
      audience: fields.string("audience", in: "curriculum.yaml"),
      level: fields.string("level", in: "curriculum.yaml"),
      language: language,
      version: version,
      lessons: parsed.map(\.lesson),
      promptTemplate: promptTemplate,
      generation: generation,
      mastery: mastery,
      synonyms: synonyms,
      directory: directory,
      safetyReply: safetyReply,
      pedagogy: pedagogy
    )
  }

  /// Unknown prerequisites and cycles among them.
  private func checkPrerequisites(_ parsed: [LessonParser.Parsed]) {
    let ids = Set(parsed.map(\.lesson.id))
    for p in parsed {
      for (prerequisite, node) in p.prerequisiteNodes {
        let pos = p.source.position(node)
        if prerequisite == p.lesson.id {
          sink.error(
            "lesson '\(prerequisite)' lists itself as a prerequisite",
            file: p.source.file,
            line: pos.line,
            column: pos.column
          )
        } else if !ids.contains(prerequisite) {
          sink.error(
            "unknown prerequisite '\(prerequisite)'" + didYouMean(prerequisite, among: ids),
            file: p.source.file,
            line: pos.line,
            column: pos.column
          )
        }
      }
    }
    // Depth-first search; each cycle is reported once, at the lesson where it closes.
    let graph = Dictionary(
      parsed.map { ($0.lesson.id, $0.lesson.prerequisites.filter(ids.contains)) },
      uniquingKeysWith: { a, _ in a }
    )
    let byId = Dictionary(parsed.map { ($0.lesson.id, $0) }, uniquingKeysWith: { a, _ in a })
    var state: [String: Int] = [:]  // 1: on the stack, 2: done
    var stack: [String] = []
    func visit(_ node: String) {
      state[node] = 1
      stack.append(node)
      for next in graph[node] ?? [] where next != node {
        if state[next] == 1, let p = byId[node] {
          let cycle = stack[stack.lastIndex(of: next)!...] + [next]
          let entry = p.prerequisiteNodes.first { $0.0 == next }?.1
          let pos = p.source.position(entry)
          sink.error(
            "prerequisites form a cycle: \(cycle.joined(separator: " → "))",
            file: p.source.file,
            line: pos.line,
            column: pos.column
          )
        } else if state[next] == nil {
          visit(next)
        }
      }
      stack.removeLast()
      state[node] = 2
    }
    for p in parsed where state[p.lesson.id] == nil { visit(p.lesson.id) }
  }

  /// Answers are submitted by exercise id within a curriculum, so ids must be unique across it.
  private func checkExerciseIdsAreUnique(_ parsed: [LessonParser.Parsed]) {
    var owner: [String: String] = [:]
    for p in parsed {
      for (eid, node) in p.exerciseNodes {
        if let first = owner[eid] {
          let pos = p.source.position(node)
          sink.error(
            "exercise id '\(eid)' is already used in lesson '\(first)'; exercise ids must be unique in a curriculum",
            file: p.source.file,
            line: pos.line,
            column: pos.column
          )
        } else {
          owner[eid] = p.lesson.id
        }
      }
    }
  }

  static func isValidId(_ id: String) -> Bool {
    !id.isEmpty
      && id.unicodeScalars.allSatisfy {
        ("a" ... "z").contains($0) || ("0" ... "9").contains($0) || $0 == "-" || $0 == "_"
      }
  }

  /// `mastery: {p_init, p_learn, p_guess, p_slip, threshold}`, each a probability.
  static func mastery(_ node: Node, source: YAMLSource, sink: DiagnosticSink) -> MasteryParameters? {
    guard let m = YAMLFields(node, source: source, sink: sink, what: "'mastery'") else { return nil }
    m.reportUnknownKeys(["p_init", "p_learn", "p_guess", "p_slip", "threshold"], in: "'mastery'")
    var p = MasteryParameters()
    p.pInit = m.double("p_init", in: 0 ... 1) ?? p.pInit
    p.pLearn = m.double("p_learn", in: 0 ... 1) ?? p.pLearn
    p.pGuess = m.double("p_guess", in: 0 ... 1) ?? p.pGuess
    p.pSlip = m.double("p_slip", in: 0 ... 1) ?? p.pSlip
    p.threshold = m.double("threshold", in: 0 ... 1) ?? p.threshold
    if p.pGuess + p.pSlip >= 1 {
      m.error("p_guess + p_slip must be below 1 for mastery estimates to mean anything", at: nil)
    }
    return p
  }
}
