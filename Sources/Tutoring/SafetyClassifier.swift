import Foundation

/// What the lexicon cannot list: a message's sentence embedding (all-MiniLM-L6-v2, the retrieval
/// encoder, run in our engine) scored per category by a logistic regression, trained on the
/// project's labelled messages by `tools/eval/safety_classifier.py --export`, each with the
/// threshold cross-validation chose (recall first, within a false-alarm budget). For self-harm and
/// threats the score is the regression's logit plus a nearest-neighbour margin over the training
/// messages (β × (mean cosine of the k closest messages of the category − that of the k closest
/// others)): a paraphrase of one remembered message is caught where a linear boundary over all of
/// them misses it. The screen flags what the lexicon or the classifier finds. Personal data stays
/// with the patterns.
public struct SafetyClassifier: Sendable {
  struct Model: Sendable {
    let category: MessageScreen.Category
    let bias: Float
    /// A probability, or for a model with `neighbours`, a score (logit + β·margin).
    let threshold: Float
    /// Whether the score adds the nearest-neighbour margin.
    var neighbours = false
    let weights: [Float]
  }

  /// The training messages' vectors (int8, a scale per row) and, per message, a bit per
  /// neighbour category (bit i: ``Neighbours/categories``[i]).
  struct Neighbours: Sendable {
    static let categories: [MessageScreen.Category] = [.selfHarm, .violence]
    let dimension: Int
    let vectors: [Int8]
    let scales: [Float]
    let labels: [UInt8]
    let k: Int
    let beta: Float

    /// Decodes `tools/eval/safety_classifier.py`'s blob: per message a label byte, a
    /// little-endian float32 scale and `dimension` int8 values.
    init?(base64 text: String, count: Int, dimension: Int, k: Int, beta: Float) {
      guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters),
        data.count == count * (5 + dimension)
      else { return nil }
      var vectors = [Int8](repeating: 0, count: count * dimension)
      var scales = [Float](repeating: 0, count: count)
      var labels = [UInt8](repeating: 0, count: count)
      data.withUnsafeBytes { raw in
        for i in 0 ..< count {
          let at = i * (5 + dimension)
          labels[i] = raw[at]
          scales[i] = Float(
            bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 1, as: UInt32.self))
          )
          for j in 0 ..< dimension { vectors[i * dimension + j] = Int8(bitPattern: raw[at + 5 + j]) }
        }
      }
      self.dimension = dimension
      self.vectors = vectors
      self.scales = scales
      self.labels = labels
      self.k = k
      self.beta = beta
    }

    /// The cosine of `vector` with every training message.
    func cosines(_ vector: [Float]) -> [Float] {
      guard vector.count == dimension else { return [] }
      return labels.indices.map { i in
        var dot: Float = 0
        let row = i * dimension
        for j in 0 ..< dimension { dot += Float(vectors[row + j]) * vector[j] }
        return dot * scales[i]
      }
    }

    /// β × (mean of the k highest cosines among messages of `category` − among the others).
    func margin(_ cosines: [Float], category: MessageScreen.Category) -> Float {
      guard let bit = Self.categories.firstIndex(of: category), cosines.count == labels.count else {
        return 0
      }
      var inside: [Float] = []
      var outside: [Float] = []
      for (i, cosine) in cosines.enumerated() {
        if labels[i] & (1 << bit) != 0 {
          Self.keep(&inside, cosine, k)
        } else {
          Self.keep(&outside, cosine, k)
        }
      }
      func mean(_ top: [Float]) -> Float { top.isEmpty ? -1 : top.reduce(0, +) / Float(top.count) }
      return beta * (mean(inside) - mean(outside))
    }

    /// Keeps the `k` largest values seen.
    private static func keep(_ top: inout [Float], _ value: Float, _ k: Int) {
      if top.count < k {
        top.append(value)
      } else if let low = top.indices.min(by: { top[$0] < top[$1] }), value > top[low] {
        top[low] = value
      }
    }
  }

  let models: [Model]
  let neighbours: Neighbours?

  /// The trained classifier (``trained`` and its neighbours).
  public static let standard = SafetyClassifier(
    models: trained,
    neighbours: Neighbours(
      base64: neighbourData,
      count: neighbourCount,
      dimension: trained.first?.weights.count ?? 0,
      k: neighbourK,
      beta: neighbourBeta
    )
  )

  /// The embedding width the classifier reads (384, all-MiniLM-L6-v2's).
  public var dimension: Int { models.first?.weights.count ?? 0 }

  /// Each category's score for `vector` (an L2-normalised embedding) and whether it reaches the
  /// category's threshold: a probability, or logit + β·margin for self-harm and threats.
  public func scores(
    _ vector: [Float]
  ) -> [(category: MessageScreen.Category, score: Double, flagged: Bool)] {
    guard vector.count == dimension else { return [] }
    let cosines = models.contains(where: \.neighbours) ? neighbours?.cosines(vector) ?? [] : []
    return models.map { model in
      var z = model.bias
      for i in 0 ..< vector.count { z += model.weights[i] * vector[i] }
      let score: Double
      if model.neighbours, let neighbours {
        score = Double(z + neighbours.margin(cosines, category: model.category))
      } else {
        score = 1 / (1 + exp(-Double(z)))
      }
      return (model.category, score, score >= Double(model.threshold))
    }
  }

  /// The categories whose score reaches their threshold.
  public func categories(_ vector: [Float]) -> [MessageScreen.Category] {
    scores(vector).filter(\.flagged).map(\.category)
  }
}
