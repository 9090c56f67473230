import CEngineKernels
import Foundation

/// Chooses the next token from a row of logits: transformers' logits processors
/// (`RepetitionPenaltyLogitsProcessor`, `TemperatureLogitsWarper`, `TopKLogitsWarper`,
/// `TopPLogitsWarper`), in that order, then argmax or a seeded draw.
public struct TokenSampler: Sendable {
  public let parameters: GenerationParameters
  private var random: RandomSource

  public init(parameters: GenerationParameters) {
    self.parameters = parameters
    random = RandomSource(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
  }

  /// Picks a token given `logits` (modified in place: penalised, tempered and warped) and every
  /// token id seen so far.
  public mutating func next(logits: inout [Float], context: [Int]) -> Int {
    applyRepetitionPenalty(&logits, context: context)
    guard parameters.isSampling else {
      return logits.withUnsafeBufferPointer { gn_argmax($0.baseAddress!, $0.count) }
    }
    Self.warp(logits: &logits, parameters: parameters)
    return draw(logits) ?? 0
  }

  /// Picks again from `logits` as ``next(logits:context:)`` left them, after the caller ruled
  /// out its choice (set it to -inf): the next most likely token, or a draw from the rest
  /// (renormalised). Returns nil when no token is left.
  public mutating func redraw(logits: [Float]) -> Int? {
    guard logits.contains(where: { $0 > -.infinity }) else { return nil }
    guard parameters.isSampling else {
      return logits.withUnsafeBufferPointer { gn_argmax($0.baseAddress!, $0.count) }
    }
    return draw(logits)
  }

  /// A seeded draw from softmax(logits), in two passes over the row and no copy of it (nil when
  /// every logit is -inf). It runs once per token of every sampled sequence on the batch's thread,
  /// so its cost is paid by the whole batch.
  private mutating func draw(_ logits: [Float]) -> Int? {
    let u = random.nextUnit()
    let id = logits.withUnsafeBufferPointer { gn_draw_softmax($0.baseAddress!, $0.count, u) }
    return id < logits.count ? id : nil
  }

  /// Scores of tokens already seen are divided by the penalty when positive and multiplied when
  /// negative (each token once, however often it occurred).
  func applyRepetitionPenalty(_ logits: inout [Float], context: [Int]) {
    let penalty = parameters.repetitionPenalty
    guard penalty != 1 else { return }
    for id in Set(context) where id >= 0 && id < logits.count {
      let s = logits[id]
      logits[id] = s < 0 ? s * penalty : s / penalty
    }
  }

  /// The sampling distribution after temperature, top-k and top-p (the repetition penalty is
  /// applied by the caller), as probabilities in vocabulary order.
  public static func distribution(logits: inout [Float], parameters: GenerationParameters) -> [Double] {
    warp(logits: &logits, parameters: parameters)
    return softmax(logits)
  }

  /// Temperature, top-k and top-p applied to `logits`: divided by the temperature, and the
  /// tokens the warpers remove set to -inf.
  static func warp(logits: inout [Float], parameters: GenerationParameters) {
    let n = logits.count
    if parameters.temperature != 1, parameters.temperature > 0 {
      let temperature = parameters.temperature
      logits.withUnsafeMutableBufferPointer { x in
        for i in x.indices { x[i] /= temperature }
      }
    }
    if let k = parameters.topK, k > 0, k < n {
      // Keep scores ≥ the k-th largest (ties at the threshold survive, as with torch.topk).
      var scratch = [Float](repeating: 0, count: n)
      let threshold = logits.withUnsafeBufferPointer { x in
        scratch.withUnsafeMutableBufferPointer { gn_kth_largest(x.baseAddress!, n, k, $0.baseAddress!) }
      }
      for i in 0 ..< n where logits[i] < threshold { logits[i] = -.infinity }
    }
    if let p = parameters.topP, p < 1 {
      // Walking up from the least likely token, remove tokens while the cumulative probability
      // stays within 1 - p; the most likely token always stays.
      var order = [UInt32](repeating: 0, count: n)
      logits.withUnsafeBufferPointer { x in
        order.withUnsafeMutableBufferPointer { gn_argsort_descending(x.baseAddress!, n, $0.baseAddress!) }
      }
      let probabilities = softmax(logits)
      var cumulative = 0.0
      for index in order.reversed().dropLast() {
        cumulative += probabilities[Int(index)]
        if cumulative <= 1 - Double(p) { logits[Int(index)] = -.infinity } else { break }
      }
    }
  }

  static func softmax(_ x: [Float]) -> [Double] {
    let m = x.max() ?? 0
    var e = x.map { $0 == -.infinity ? 0 : exp(Double($0 - m)) }
    let sum = e.reduce(0, +)
    for i in e.indices { e[i] /= sum }
    return e
  }
}
