/// One curriculum, a course of lessons, as a teacher authored it under `curricula/<id>/`. (Named
/// `Course` so that it does not clash with its module: `Curriculum.Course`, `Curriculum.Lesson`.)
public struct Course: Sendable, Equatable {
  public var id: String
  public var title: String
  public var description: String
  public var audience: String?
  public var level: String?
  /// BCP 47 language tag, e.g. `en`.
  public var language: String
  public var version: String
  /// Lessons in teaching order.
  public var lessons: [Lesson]
  /// The Mustache text that overrides the default tutoring prompt, when the curriculum has one.
  public var promptTemplate: String?
  public var generation: GenerationDefaults
  public var mastery: MasteryParameters
  /// Words students use → the curriculum terms they stand for (from `synonyms:`), for retrieval.
  public var synonyms: [String: [String]]
  /// The folder the curriculum was read from.
  public var directory: String
  /// What a student reads when screening finds they may be at risk (self-harm, threats): who
  /// to talk to at this school (`safety: reply:`); nil takes the server's.
  public var safetyReply: String? = nil
  /// How the tutor helps with exercises (`pedagogy:`).
  public var pedagogy: Pedagogy = .socratic

  public func lesson(_ id: String) -> Lesson? { lessons.first { $0.id == id } }

  /// Every snippet of every lesson, in order.
  public var snippets: [Snippet] { lessons.flatMap(\.snippets) }
}

/// How the tutor helps a student with an exercise.
public enum Pedagogy: String, Sendable, Equatable, CaseIterable {
  /// Never the answer: a guiding question and the note first, the exercise's hints after wrong
  /// attempts, then a worked similar example.
  case socratic
  /// The note and the hints at once, still never the answer.
  case direct
}

/// Per-curriculum defaults for generated explanations.
/// `nil` leaves a setting to the request, then the server.
public struct GenerationDefaults: Sendable, Equatable {
  public var maxNewTokens: Int?
  public var temperature: Double?
  /// Grounded decoding (see the engine's `Grounding`): the copy bonus toward the notes' spans,
  /// context-aware decoding's α, the size of n-grams an answer may not repeat, and whether an
  /// answer near its budget ends at a sentence. 0 / false turns one off for the curriculum.
  public var copyBias: Double?
  public var contrastStrength: Double?
  public var noRepeatNGramSize: Int?
  public var endAtSentence: Bool?
  /// Sentences an answer may have (0: no limit).
  public var maxSentences: Int?

  public init(
    maxNewTokens: Int? = nil,
    temperature: Double? = nil,
    copyBias: Double? = nil,
    contrastStrength: Double? = nil,
    noRepeatNGramSize: Int? = nil,
    endAtSentence: Bool? = nil,
    maxSentences: Int? = nil
  ) {
    self.maxNewTokens = maxNewTokens
    self.temperature = temperature
    self.copyBias = copyBias
    self.contrastStrength = contrastStrength
    self.noRepeatNGramSize = noRepeatNGramSize
    self.endAtSentence = endAtSentence
    self.maxSentences = maxSentences
  }
}

/// Bayesian Knowledge Tracing parameters (defaults 0.3 / 0.1 / 0.2 / 0.1, mastery at 0.95).
public struct MasteryParameters: Sendable, Equatable {
  public var pInit: Double = 0.3
  public var pLearn: Double = 0.1
  public var pGuess: Double = 0.2
  public var pSlip: Double = 0.1
  public var threshold: Double = 0.95

  public init() {}
}

/// A lesson: objectives, prerequisites, exercises and a Markdown body split into snippets.
public struct Lesson: Sendable, Equatable {
  public var id: String
  public var title: String
  public var objectives: [Objective]
  /// Ids of lessons of the same curriculum that should come first.
  public var prerequisites: [String]
  public var keyTerms: [String]
  public var exercises: [Exercise]
  /// The Markdown body (front matter removed).
  public var body: String
  public var snippets: [Snippet]
  /// The lesson file.
  public var file: String

  public func exercise(_ id: String) -> Exercise? { exercises.first { $0.id == id } }
}

/// Something a student should be able to do after the lesson.
public struct Objective: Sendable, Equatable {
  public var id: String
  public var text: String
  /// Per-objective override of the curriculum's mastery parameters.
  public var mastery: MasteryParameters?
}

/// A retrievable piece of a lesson: one `##`/`###` section, or part of a long one.
public struct Snippet: Sendable, Equatable, Codable {
  /// `<curriculum>/<lesson>#<section-slug>`, stable while the heading keeps its text.
  public var id: String
  public var curriculumId: String
  public var lessonId: String
  public var lessonTitle: String
  /// The section heading (the lesson title for text before the first heading).
  public var heading: String
  public var text: String
  public var keyTerms: [String]
  /// Line of the lesson file where the snippet starts.
  public var line: Int
  /// How students ask about this section, in their own words (the lesson's
  /// `student_questions:`): retrieval matches questions against these as well as the text.
  public var studentQuestions: [String] = []
}
