import Curriculum
import Mustache

/// Builds the tutoring prompt: the tutor's instructions, the lesson's title and objectives, the
/// retrieved snippets (best first) and the latest turns of the session, fitted to the model's
/// context minus the tokens reserved for the answer, counted with the model's tokenizer.
///
/// Snippets are added in rank order while they fit; then past turns, newest first, while they
/// fit; the question itself must always fit. Turns appear in the prompt oldest first.
///
/// ```swift
/// let builder = try PromptBuilder(countTokens: { tokenizer.encode($0).count })
/// let prompt = try builder.build(.init(curriculum: c, lesson: l, snippets: hits, history: turns,
///                                      question: "Why are leaves green?"),
///                                contextLength: 2048, answerTokens: 200)
/// ```
public struct PromptBuilder: Sendable {
  /// The tutor's answer ends where the model starts writing the student's next line.
  public static let stopSequences = ["\nStudent:"]

  /// The default template; curricula may override it with `prompt_template`.
  ///
  /// Kept after measuring the alternatives with `tutor eval answers` on the tuning questions (89,
  /// bundled model, server defaults; useful and fluent / grounded): this template with 4 notes
  /// 62% / 0.71; 2 notes 61% / 0.71; 1 note 57% / 0.71; the question also before the notes 53% /
  /// 0.68; no instruction 53% / 0.65; an instruction to answer in sentences from the notes 46% /
  /// 0.65; the notes best last 63% / 0.70. The bundled model was trained on this layout, and more
  /// notes give copy support more to choose from. Tables in docs/answers.md. Variables:
  /// `curriculum`, `lesson`, `objectives` (list of text), `hasObjectives`, `snippets` (`id`, `heading`, `text`),
  /// `history` (`question`, `answer`), `question`. Text is not HTML-escaped.
  public static let defaultTemplate = """
    You are a patient, encouraging tutor for the course "{{curriculum}}". Answer the student's \
    question clearly and briefly, using the lesson notes below. If the notes do not cover the \
    question, say so and suggest what to ask the teacher.

    Lesson: {{lesson}}
    {{#hasObjectives}}
    Objectives:
    {{#objectives}}
    - {{.}}
    {{/objectives}}
    {{/hasObjectives}}

    Notes:
    {{#snippets}}
    ## {{heading}}
    {{text}}

    {{/snippets}}
    {{#history}}
    Student: {{question}}
    Tutor: {{answer}}
    {{/history}}
    Student: {{question}}
    Tutor:
    """

  /// What a prompt is built from.
  public struct Input: Sendable {
    public var curriculum: String
    public var lesson: String
    public var objectives: [String]
    /// Retrieved snippets, best first.
    public var snippets: [SnippetHit]
    /// Past turns of the session, oldest first.
    public var history: [(question: String, answer: String)]
    public var question: String

    public init(
      curriculum: String,
      lesson: String,
      objectives: [String],
      snippets: [SnippetHit],
      history: [(question: String, answer: String)],
      question: String
    ) {
      self.curriculum = curriculum
      self.lesson = lesson
      self.objectives = objectives
      self.snippets = snippets
      self.history = history
      self.question = question
    }
  }

  /// A built prompt and what went into it.
  public struct Prompt: Sendable, Equatable {
    public var text: String
    public var tokenCount: Int
    /// The snippets included, best first.
    public var snippetIds: [String]
    /// How many of the latest turns were included.
    public var turnsIncluded: Int
    /// The same prompt without the notes (for context-aware decoding, which contrasts the two).
    public var textWithoutNotes: String
  }

  public enum Error: Swift.Error, Equatable, CustomStringConvertible {
    /// Even without notes or history the question leaves no room for the answer.
    case questionTooLong(promptTokens: Int, budget: Int)
    case invalidTemplate(String)

    public var description: String {
      switch self {
      case .questionTooLong(let tokens, let budget):
        return
          "the question needs a \(tokens)-token prompt but only \(budget) tokens are available; shorten it"
      case .invalidTemplate(let reason): return "invalid prompt template: \(reason)"
      }
    }
  }

  private let template: MustacheTemplate
  private let countTokens: @Sendable (String) -> Int
  /// Render the notes worst first, so the best ends next to the question (they are still chosen
  /// best first). Measured no different from best first on the tuning questions (63% against 62%
  /// useful and fluent: one question), so the default stays best first, the order the bundled
  /// model was trained on (docs/answers.md).
  public var notesBestLast = false

  /// - Parameters:
  ///   - template: Mustache text (a curriculum's `prompt_template`), or nil for the default.
  ///   - countTokens: the model tokenizer's token count.
  public init(template: String? = nil, countTokens: @escaping @Sendable (String) -> Int) throws {
    do {
      // Prompts are plain text: no HTML escaping of the student's words.
      self.template = try MustacheTemplate(
        string: "{{% CONTENT_TYPE: TEXT}}" + (template ?? Self.defaultTemplate)
      )
    } catch {
      throw Error.invalidTemplate("\(error)")
    }
    self.countTokens = countTokens
  }

  /// The prompt for `input` that fits `contextLength - answerTokens` tokens.
  public func build(_ input: Input, contextLength: Int, answerTokens: Int) throws -> Prompt {
    let budget = contextLength - answerTokens
    var snippets: [SnippetHit] = []
    var turns = 0
    func render() -> (String, Int) {
      let text = self.render(input, snippets: snippets, turns: turns)
      return (text, countTokens(text))
    }
    var (text, tokens) = render()
    guard tokens <= budget else { throw Error.questionTooLong(promptTokens: tokens, budget: max(budget, 0)) }
    // Snippets in rank order; one that does not fit is skipped, a shorter one later may.
    for hit in input.snippets {
      snippets.append(hit)
      let candidate = render()
      if candidate.1 <= budget {
        (text, tokens) = candidate
      } else {
        snippets.removeLast()
      }
    }
    // Then history, newest first, stopping at the first turn that does not fit.
    while turns < input.history.count {
      turns += 1
      let candidate = render()
      if candidate.1 <= budget {
        (text, tokens) = candidate
      } else {
        turns -= 1
        break
      }
    }
    return Prompt(
      text: text,
      tokenCount: tokens,
      snippetIds: snippets.map(\.id),
      turnsIncluded: turns,
      textWithoutNotes: self.render(input, snippets: [], turns: turns)
    )
  }

  private func render(_ input: Input, snippets: [SnippetHit], turns: Int) -> String {
    let history = input.history.suffix(turns).map { ["question": $0.question, "answer": $0.answer] }
    let context: [String: Any] = [
      "curriculum": input.curriculum,
      "lesson": input.lesson,
      "objectives": input.objectives,
      "hasObjectives": !input.objectives.isEmpty,
      "snippets": (notesBestLast ? snippets.reversed() : snippets).map {
        ["id": $0.id, "heading": $0.heading, "text": $0.text]
      },
      "history": history,
      "question": input.question,
    ]
    return template.render(context)
  }
}
