import Curriculum
import Foundation

/// One supervised example for training a tutor model: the prompt exactly as the server would
/// build it for `question` in `lesson`, and the answer the model should continue it with.
public struct TrainingExample: Sendable, Equatable, Codable {
  public var curriculum: String
  public var lesson: String
  /// Where the question and answer come from: `section` (a lesson section explained), `term`
  /// (a key term defined), `hint` (an exercise a student is stuck on).
  public var kind: String
  public var question: String
  public var prompt: String
  /// The answer, then the stop sequence the server cuts answers at, so the model learns to stop.
  public var completion: String
  /// Snippet ids the prompt quotes, and their texts (what an answer should be grounded in).
  public var snippetIds: [String]
  public var notes: [String]
  /// The stop sequence the completion ends with, so that tools need not repeat it.
  public var stop: String
}

/// Tutoring dialogues derived from the curricula, in the server's own prompt format.
///
/// Questions are the ones students ask of a lesson — explain this section, what does this term
/// mean, I'm stuck on this exercise — and answers are taken from the lesson itself (the
/// section's first sentences, the sentences that use the term, the exercise's first hint), so
/// what a model learns is to answer from the notes in its prompt.
///
/// ```swift
/// let examples = TrainingExamples.make(curricula: library.curricula, index: index,
///                                      contextLength: 2048) { tokenizer.encode($0).count }
/// ```
public enum TrainingExamples {
  public static func make(
    curricula: [Course],
    index: SnippetIndex,
    contextLength: Int,
    answerTokens: Int? = nil,
    snippets: Int = 4,
    countTokens: @escaping @Sendable (String) -> Int
  ) -> [TrainingExample] {
    var examples: [TrainingExample] = []
    for curriculum in curricula {
      // As the server does: the curriculum's max_new_tokens is kept free for the answer.
      let reserved = answerTokens ?? curriculum.generation.maxNewTokens ?? defaultAnswerTokens
      for lesson in curriculum.lessons {
        for (kind, question, answer) in dialogues(lesson) {
          guard
            let prompt = try? TutoringService.prompt(
              question: question,
              curriculum: curriculum,
              lesson: lesson,
              history: [],
              index: index,
              snippets: snippets,
              contextLength: contextLength,
              answerTokens: reserved,
              countTokens: countTokens
            )
          else { continue }
          examples.append(
            TrainingExample(
              curriculum: curriculum.id,
              lesson: lesson.id,
              kind: kind,
              question: question,
              prompt: prompt.text,
              completion: " " + answer + PromptBuilder.stopSequences[0],
              snippetIds: prompt.snippetIds,
              notes: prompt.snippetIds.compactMap { id in curriculum.snippets.first { $0.id == id }?.text },
              stop: PromptBuilder.stopSequences[0]
            )
          )
        }
      }
    }
    return examples
  }

  /// Tokens kept for the answer when neither the caller nor the curriculum says.
  public static let defaultAnswerTokens = 200

  /// The questions a lesson answers, with the answers it gives.
  static func dialogues(_ lesson: Lesson) -> [(kind: String, question: String, answer: String)] {
    var out: [(String, String, String)] = []
    for snippet in lesson.snippets where snippet.heading != lesson.title {
      let sentences = Self.sentences(snippet.text)
      guard !sentences.isEmpty else { continue }
      let answer = sentences.prefix(3).joined(separator: " ")
      let topic = snippet.heading.prefix(1).lowercased() + snippet.heading.dropFirst()
      for question in phrasings(sectionQuestions, count: 2, for: topic) {
        out.append(("section", question, answer))
      }
    }
    let allSentences = lesson.snippets.flatMap { Self.sentences($0.text) }
    for term in lesson.keyTerms {
      let using = allSentences.filter { $0.range(of: term, options: .caseInsensitive) != nil }
      guard !using.isEmpty else { continue }
      for question in phrasings(termQuestions, count: 1, for: term) {
        out.append(("term", question, using.prefix(2).joined(separator: " ")))
      }
    }
    for exercise in lesson.exercises {
      guard let hint = exercise.hints.first else { continue }
      out.append(("hint", "I'm stuck on this question: \(exercise.prompt)", "Here is a hint: \(hint)"))
    }
    return out
  }

  /// Ways students ask to have a section explained; `{}` is the section's topic.
  static let sectionQuestions = [
    "Can you explain {}?", "What should I know about {}?", "I don't understand {}. Can you help?",
    "Tell me about {}.", "Could you go over {} again?", "What is the main idea of {}?",
    "Please explain {} simply.",
  ]
  /// Ways students ask what a term means; `{}` is the term.
  static let termQuestions = [
    "What does {} mean?", "What is meant by {}?", "Can you define {}?", "What is {}?",
  ]

  /// `count` different phrasings for `topic`, chosen by a stable hash of the topic so the same
  /// curricula always give the same examples (Swift's `hashValue` is seeded per process).
  static func phrasings(_ templates: [String], count: Int, for topic: String) -> [String] {
    let hash = topic.unicodeScalars.reduce(UInt64(14_695_981_039_346_656_037)) {
      ($0 ^ UInt64($1.value)) &* 1_099_511_628_211
    }
    let first = Int(hash % UInt64(templates.count))
    return (0 ..< min(count, templates.count)).map {
      templates[(first + $0) % templates.count].replacingOccurrences(of: "{}", with: topic)
    }
  }

  /// Plain sentences of a snippet: Markdown emphasis, list markers, headings, tables and code
  /// blocks removed (code is not prose), whitespace collapsed. A blank line or a code block ends
  /// a paragraph, and words left over at a paragraph's end without a full stop are dropped, so
  /// every sentence reads as it does in the lesson.
  static func sentences(_ markdown: String) -> [String] {
    var paragraphs: [String] = [""]
    var inCode = false
    for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
      var l = line.trimmingCharacters(in: .whitespaces)
      if l.hasPrefix("```") {
        inCode.toggle()
        paragraphs.append("")
        continue
      }
      if inCode || l.hasPrefix("#") || l.hasPrefix("|") { continue }
      if l.isEmpty {
        paragraphs.append("")
        continue
      }
      for marker in ["- ", "* ", "> "] where l.hasPrefix(marker) { l.removeFirst(marker.count) }
      paragraphs[paragraphs.count - 1] +=
        l.replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "`", with: "") + " "
    }
    var sentences: [String] = []
    for paragraph in paragraphs {
      // A sentence ends at . ! or ? followed by a space (not inside "0.75" or "e.g.x").
      let characters = Array(paragraph.split(whereSeparator: \.isWhitespace).joined(separator: " ") + " ")
      var current = ""
      for (i, character) in characters.enumerated() {
        current.append(character)
        if ".!?".contains(character), i + 1 < characters.count, characters[i + 1] == " " {
          let sentence = current.trimmingCharacters(in: .whitespaces)
          if sentence.count > 12 { sentences.append(sentence) }
          current = ""
        }
      }
    }
    return sentences
  }
}
