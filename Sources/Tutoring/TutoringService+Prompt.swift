import Curriculum

extension TutoringService {
  /// A curriculum's prompt template that does not compile.
  struct TemplateError: Error {
    var underlying: any Error
  }

  /// The prompt for `question` in `lesson`: the snippets the index finds for it (the lesson and
  /// its prerequisites favoured), the history, within `contextLength` minus `answerTokens`.
  /// `ask` builds every prompt here, and so does the training-data export, so a model trained on
  /// that data sees exactly what the server will show it.
  /// - Throws: ``PromptBuilder/Error`` when the question and instructions alone don't fit.
  public static func prompt(
    question: String,
    curriculum: Course,
    lesson: Lesson?,
    history: [(question: String, answer: String)],
    index: SnippetIndex,
    snippets: Int,
    contextLength: Int,
    answerTokens: Int,
    countTokens: @escaping @Sendable (String) -> Int
  ) throws -> PromptBuilder.Prompt {
    try prompt(
      question: question,
      curriculum: curriculum,
      lesson: lesson,
      history: history,
      hits: index.search(question, curriculum: curriculum.id, lesson: lesson?.id, limit: snippets),
      contextLength: contextLength,
      answerTokens: answerTokens,
      countTokens: countTokens
    )
  }

  /// The prompt around snippets already retrieved (see ``CurriculumCatalog/search(_:curriculum:lesson:limit:)``).
  static func prompt(
    question: String,
    curriculum: Course,
    lesson: Lesson?,
    history: [(question: String, answer: String)],
    hits: [SnippetHit],
    contextLength: Int,
    answerTokens: Int,
    defaultTemplate: String? = nil,
    notesBestLast: Bool = false,
    countTokens: @escaping @Sendable (String) -> Int
  ) throws -> PromptBuilder.Prompt {
    var builder: PromptBuilder
    do {
      builder = try PromptBuilder(
        template: curriculum.promptTemplate ?? defaultTemplate,
        countTokens: countTokens
      )
    } catch {
      throw TemplateError(underlying: error)
    }
    builder.notesBestLast = notesBestLast
    return try builder.build(
      .init(
        curriculum: curriculum.title,
        lesson: lesson?.title ?? "",
        objectives: lesson?.objectives.map(\.text) ?? [],
        snippets: hits,
        history: history,
        question: question
      ),
      contextLength: contextLength,
      answerTokens: answerTokens
    )
  }
}
