import Foundation
import Yams

/// Quality of snippet retrieval on a labelled set of questions.
public struct RetrievalEvaluation: Sendable {
  /// One labelled question: the curriculum it is asked in and the snippets that answer it.
  public struct Question: Sendable, Decodable {
    public var curriculum: String
    public var question: String
    public var relevant: [String]
  }

  /// Per-question outcome.
  public struct Outcome: Sendable {
    public var question: Question
    public var ranked: [String]
    /// 1-based rank of the first relevant snippet in the top 10, if any.
    public var firstRelevantRank: Int?
  }

  public var outcomes: [Outcome]
  /// Mean over questions of |relevant ∩ top 3| / |relevant|.
  public var recallAt3: Double
  /// Share of questions with at least one relevant snippet in the top 3.
  public var hitAt3: Double
  /// Mean reciprocal rank of the first relevant snippet (0 beyond rank 10).
  public var meanReciprocalRank: Double

  /// Reads a YAML list of `{curriculum, question, relevant}`.
  public static func loadQuestions(path: String) throws -> [Question] {
    try YAMLDecoder().decode([Question].self, from: String(contentsOfFile: path, encoding: .utf8))
  }

  /// Runs every question through `index` (within its curriculum) and scores the rankings.
  public static func evaluate(_ questions: [Question], index: SnippetIndex) -> RetrievalEvaluation {
    var outcomes: [Outcome] = []
    var recall = 0.0
    var hits = 0.0
    var rr = 0.0
    for q in questions {
      let ranked = index.search(q.question, curriculum: q.curriculum, limit: 10).map(\.id)
      let relevant = Set(q.relevant)
      let top3 = Set(ranked.prefix(3))
      recall += Double(relevant.intersection(top3).count) / Double(max(relevant.count, 1))
      if !relevant.isDisjoint(with: top3) { hits += 1 }
      let first = ranked.firstIndex { relevant.contains($0) }.map { $0 + 1 }
      if let first { rr += 1 / Double(first) }
      outcomes.append(Outcome(question: q, ranked: ranked, firstRelevantRank: first))
    }
    let n = Double(max(questions.count, 1))
    return RetrievalEvaluation(
      outcomes: outcomes,
      recallAt3: recall / n,
      hitAt3: hits / n,
      meanReciprocalRank: rr / n
    )
  }

  /// One line of figures, e.g. `78 questions: recall@3 0.857, hit@3 0.885, MRR 0.772`.
  public var summary: String {
    String(
      format: "%d questions: recall@3 %.3f, hit@3 %.3f, MRR %.3f",
      outcomes.count,
      recallAt3,
      hitAt3,
      meanReciprocalRank
    )
  }

  /// Questions whose first relevant snippet is not in the top 3, with what was ranked instead.
  public var misses: [String] {
    outcomes.filter { ($0.firstRelevantRank ?? .max) > 3 }.map {
      "\($0.question.curriculum): \($0.question.question) → \($0.ranked.prefix(3).joined(separator: ", "))"
    }
  }
}
