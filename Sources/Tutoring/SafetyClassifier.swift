import Foundation

/// What the lexicon cannot list: a message's sentence embedding (all-MiniLM-L6-v2, the retrieval
/// encoder, run in our engine) scored by one logistic regression per category, trained on the
/// project's labelled messages by `tools/eval/safety_classifier.py --export`, each with the
/// threshold cross-validation chose (recall first, within a false-alarm budget). The screen
/// flags what the lexicon or the classifier finds. Personal data stays with the patterns.
public struct SafetyClassifier: Sendable {
  struct Model: Sendable {
    let category: MessageScreen.Category
    let bias: Float
    let threshold: Float
    let weights: [Float]
  }

  let models: [Model]

  /// The trained classifier (``trained``).
  public static let standard = SafetyClassifier(models: trained)

  /// The embedding width the classifier reads (384, all-MiniLM-L6-v2's).
  public var dimension: Int { models.first?.weights.count ?? 0 }

  /// Each category's probability for `vector` (an L2-normalised embedding).
  public func probabilities(_ vector: [Float]) -> [(category: MessageScreen.Category, probability: Double)] {
    guard vector.count == dimension else { return [] }
    return models.map { model in
      var z = model.bias
      for i in 0 ..< vector.count { z += model.weights[i] * vector[i] }
      return (model.category, 1 / (1 + exp(-Double(z))))
    }
  }

  /// The categories whose probability reaches their threshold.
  public func categories(_ vector: [Float]) -> [MessageScreen.Category] {
    zip(models, probabilities(vector)).filter { $0.1.probability >= Double($0.0.threshold) }.map(\.0.category)
  }
}
