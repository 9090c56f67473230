import Foundation
import Yams

/// How well a ``MessageScreen`` finds what a labelled set of messages says is there: precision
/// and recall per category, and the share of benign messages it flags.
public struct ScreeningEvaluation: Sendable {
  /// One labelled message.
  public struct Message: Sendable, Decodable {
    public var text: String
    public var labels: [MessageScreen.Category]
    /// `dev` or `test`.
    public var split: String?
  }

  public struct Score: Sendable, Equatable {
    public var category: MessageScreen.Category
    /// Messages labelled with the category.
    public var labelled: Int
    /// Messages the screen put in the category.
    public var flagged: Int
    /// Of those, labelled with it.
    public var correct: Int
    public var precision: Double { flagged == 0 ? 1 : Double(correct) / Double(flagged) }
    public var recall: Double { labelled == 0 ? 1 : Double(correct) / Double(labelled) }
  }

  public var scores: [Score]
  public var benign: Int
  public var benignFlagged: Int
  public var benignFlaggedRate: Double { benign == 0 ? 0 : Double(benignFlagged) / Double(benign) }
  /// The messages the screen got wrong: text, labels, what it found.
  public var mistakes: [(text: String, labels: [MessageScreen.Category], found: [MessageScreen.Category])]

  /// The messages of a labelled YAML file (`messages:` of `{text, labels, split}`), optionally of
  /// one split.
  public static func messages(yaml: String, split: String? = nil) throws -> [Message] {
    struct File: Decodable { var messages: [Message] }
    let all = try YAMLDecoder().decode(File.self, from: yaml).messages
    return split.map { wanted in all.filter { $0.split == wanted } } ?? all
  }

  /// - Parameter vectors: each message's sentence embedding, for the classifier (nil: the
  ///   lexicon alone).
  public init(screen: MessageScreen, messages: [Message], vectors: [[Float]]? = nil) {
    var scores = Dictionary(
      uniqueKeysWithValues: MessageScreen.Category.allCases.map {
        ($0, Score(category: $0, labelled: 0, flagged: 0, correct: 0))
      }
    )
    var benign = 0
    var benignFlagged = 0
    var mistakes: [(String, [MessageScreen.Category], [MessageScreen.Category])] = []
    for (i, message) in messages.enumerated() {
      let found = Set(screen.screen(message.text, vector: vectors?[i]).map(\.category))
      let labels = Set(message.labels)
      for category in MessageScreen.Category.allCases {
        if labels.contains(category) { scores[category]!.labelled += 1 }
        if found.contains(category) {
          scores[category]!.flagged += 1
          if labels.contains(category) { scores[category]!.correct += 1 }
        }
      }
      if labels.isEmpty {
        benign += 1
        if !found.isEmpty { benignFlagged += 1 }
      }
      if found != labels { mistakes.append((message.text, labels.sorted(), found.sorted())) }
    }
    self.scores = MessageScreen.Category.allCases.map { scores[$0]! }
    self.benign = benign
    self.benignFlagged = benignFlagged
    self.mistakes = mistakes
  }

  /// A Markdown table of the scores.
  public var table: String {
    var lines = [
      "| category | labelled | flagged | precision | recall |", "|---|---|---|---|---|",
    ]
    for score in scores {
      lines.append(
        "| \(score.category.rawValue) | \(score.labelled) | \(score.flagged) | "
          + String(format: "%.3f | %.3f |", score.precision, score.recall)
      )
    }
    lines.append(
      "| benign (no category) | \(benign) | \(benignFlagged) flagged | | "
        + String(format: "%.1f%% flagged |", 100 * benignFlaggedRate)
    )
    return lines.joined(separator: "\n") + "\n"
  }
}
