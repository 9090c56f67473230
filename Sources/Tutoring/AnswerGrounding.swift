import Curriculum
import Engine
import Foundation

/// How an answer is kept to the retrieved notes: the settings of the engine's grounded decoding
/// (``Engine/Grounding``), resolved per request, then per curriculum (`generation:`), then from
/// the server's defaults.
public struct AnswerGrounding: Sendable, Equatable {
  /// Logit bonus toward tokens that continue a sentence of the notes (0: off).
  public var copyBias: Float
  /// α of context-aware decoding (0: off).
  public var contrastStrength: Float
  /// The answer may not repeat its own n-grams of this size (0: off).
  public var noRepeatNGramSize: Int
  /// Near the end of its budget an answer stops at its first sentence end.
  public var endAtSentence: Bool
  /// An answer ends after this many sentences (0: no limit).
  public var maxSentences: Int

  public init(
    copyBias: Float,
    contrastStrength: Float,
    noRepeatNGramSize: Int,
    endAtSentence: Bool,
    maxSentences: Int = 0
  ) {
    self.copyBias = copyBias
    self.contrastStrength = contrastStrength
    self.noRepeatNGramSize = noRepeatNGramSize
    self.endAtSentence = endAtSentence
    self.maxSentences = maxSentences
  }

  /// Everything off: the model's own tokens, exactly as transformers would choose them.
  public static let off = AnswerGrounding(
    copyBias: 0,
    contrastStrength: 0,
    noRepeatNGramSize: 0,
    endAtSentence: false
  )

  /// The server's default, chosen with `tutor eval answers` on the tuning questions
  /// (docs/answers.md has the tables): copy support with a bonus of 20 (12 gave less fluent
  /// answers, 30 no better), no repeated 3-grams (4: the same), whole sentences, at most three
  /// of them (two: 57% useful and fluent; three: 62%; four: no better). Context-aware decoding
  /// measured no better on the bundled model (α 0.5 and 1: 44% against 46% in the same run), so
  /// it is off unless a request or curriculum asks for it.
  public static let standard = AnswerGrounding(
    copyBias: 20,
    contrastStrength: 0,
    noRepeatNGramSize: 3,
    endAtSentence: true,
    maxSentences: 3
  )

  /// Note weights by rank: the first note is followed most; lower ones only when the model
  /// clearly prefers them.
  static let rankWeights: [Float] = [1, 0.6, 0.45, 0.35]
  /// A note's later sentences weigh less than its first (which usually states the idea).
  /// How much a note's closeness to the question (the sentence encoder's cosine of its closest
  /// sentence) moves its weight: × exp(4 · (closeness − the closest note's)), so a note 0.1 less
  /// close weighs two thirds as much. Measured on the tuning questions before the last copy
  /// fixes: useful answers 62% with rank alone, 63% with this note-level closeness (65–67% when
  /// each sentence was weighed by its own closeness, but less fluent: docs/answers.md).
  static let similaritySharpness: Float = 4
  static let sentenceDecay: Float = 0.8
}

/// A note an answer drew on, for a client to show under it ("from your lesson: …").
public struct Citation: Sendable, Equatable {
  public var snippetId: String
  public var lessonId: String
  public var lessonTitle: String
  /// The section heading of the note.
  public var heading: String
  /// The note's text.
  public var text: String

  public init(snippetId: String, lessonId: String, lessonTitle: String, heading: String, text: String) {
    self.snippetId = snippetId
    self.lessonId = lessonId
    self.lessonTitle = lessonTitle
    self.heading = heading
    self.text = text
  }
}

extension Course {
  /// The notes with these ids, in this order, as search returns them (score 0: not ranked);
  /// ids no longer in the curriculum are skipped.
  public func notes(_ snippetIds: [String]) -> [SnippetHit] {
    citations(snippetIds).map {
      SnippetHit(
        id: $0.snippetId,
        score: 0,
        text: $0.text,
        heading: $0.heading,
        curriculumId: id,
        lessonId: $0.lessonId
      )
    }
  }

  /// Citations for snippet ids of this curriculum, in the given order (ids no longer in it are
  /// left out). A snippet id names its lesson (`curriculum/lesson#section`), so only that
  /// lesson's snippets are looked through.
  public func citations(_ snippetIds: [String]) -> [Citation] {
    snippetIds.compactMap { id in
      guard let slash = id.firstIndex(of: "/"), let hash = id.firstIndex(of: "#"), slash < hash,
        let lesson = lesson(String(id[id.index(after: slash) ..< hash])),
        let snippet = lesson.snippets.first(where: { $0.id == id })
      else { return nil }
      return Citation(
        snippetId: id,
        lessonId: lesson.id,
        lessonTitle: lesson.title,
        heading: snippet.heading,
        text: snippet.text
      )
    }
  }
}

public enum NoteSentences {
  /// Abbreviations whose full stop does not end a sentence.
  static let abbreviations = [" e.g.", " i.e.", " Mr.", " Mrs.", " Dr.", " vs.", " approx."]

  /// The prose sentences of a note, in order: fenced code, list markers and Markdown emphasis
  /// are left out, so a copy never starts inside a code block.
  public static func split(_ text: String) -> [String] {
    var prose: [String] = []
    var inCode = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("```") {
        inCode.toggle()
        prose.append("")
        continue
      }
      if inCode || trimmed.hasPrefix("#") || trimmed.hasPrefix("|") || trimmed.hasPrefix(">>>") {
        prose.append("")
        continue
      }
      var content = trimmed
      for marker in ["- ", "* ", "+ "] where content.hasPrefix(marker) {
        content.removeFirst(marker.count)
      }
      prose.append(content.replacingOccurrences(of: "**", with: ""))
    }
    // Paragraphs (blank-line separated) joined into running text, then cut after . ! ? followed
    // by a space and a capital letter, a digit, a quote or a backtick.
    var sentences: [String] = []
    for paragraph in prose.split(separator: "", omittingEmptySubsequences: true) {
      let joined = paragraph.joined(separator: " ")
      var current = ""
      let characters = Array(joined)
      var i = 0
      while i < characters.count {
        current.append(characters[i])
        if ".!?".contains(characters[i]), i + 2 < characters.count, characters[i + 1] == " ",
          characters[i + 2].isUppercase || characters[i + 2].isNumber || "\"'`(".contains(characters[i + 2]),
          !abbreviations.contains(where: { current.hasSuffix($0) })
        {
          sentences.append(current.trimmingCharacters(in: .whitespaces))
          current = ""
        }
        i += 1
      }
      let rest = current.trimmingCharacters(in: .whitespaces)
      if !rest.isEmpty { sentences.append(rest) }
    }
    return sentences.filter { $0.count >= 12 && $0.contains(" ") }
  }
}

extension TutoringService {
  /// The engine's grounding for an answer from `hits` (best first): one source per note sentence,
  /// weighted by the note's rank and the sentence's place in it; the contrast prompt for
  /// context-aware decoding.
  static func grounding(
    _ settings: AnswerGrounding,
    notes: [(hit: SnippetHit, sentences: [String])],
    similarities: [Float]?,
    contrastPromptTokens: @autoclosure () -> [Int],
    encode: (String) -> [Int]
  ) -> Grounding {
    var sources: [Grounding.Source] = []
    if settings.copyBias > 0 {
      // A note's closeness to the question: its closest sentence's.
      var closeness: [Float] = []
      if let similarities {
        var i = 0
        for note in notes {
          closeness.append(similarities[i ..< i + note.sentences.count].max() ?? -1)
          i += note.sentences.count
        }
      }
      let best = closeness.max() ?? 0
      for (rank, note) in notes.enumerated() {
        var noteWeight = AnswerGrounding.rankWeights[min(rank, AnswerGrounding.rankWeights.count - 1)]
        if !closeness.isEmpty {
          noteWeight *= exp(AnswerGrounding.similaritySharpness * (closeness[rank] - best))
        }
        for (k, sentence) in note.sentences.enumerated() {
          let weight = noteWeight * pow(AnswerGrounding.sentenceDecay, Float(k))
          sources.append(.init(tokens: encode(" " + sentence), weight: weight, group: rank))
        }
      }
    }
    return Grounding(
      sources: sources,
      copyBias: settings.copyBias,
      contrastPromptTokens: settings.contrastStrength > 0 ? contrastPromptTokens() : [],
      contrastStrength: settings.contrastStrength,
      noRepeatNGramSize: settings.noRepeatNGramSize,
      endAtSentenceBoundary: settings.endAtSentence,
      maxSentences: settings.maxSentences
    )
  }
}
