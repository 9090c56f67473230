import CEngineKernels
import Foundation

/// Perplexity of a model over a token sequence.
public struct PerplexityResult: Sendable, Equatable {
  /// exp(mean negative log-likelihood per scored token).
  public var perplexity: Double
  /// Mean negative log-likelihood in nats.
  public var meanNLL: Double
  /// Tokens scored (every token of the text).
  public var tokens: Int
}

extension GPTNeoModel {
  /// Sliding-window perplexity of `tokens`.
  ///
  /// The tokens are prefixed with `<|endoftext|>` so that the first one is scored too (as
  /// lm-evaluation-harness does). Windows of `max_position_embeddings` tokens advance by `stride`
  /// (half a window by default); each token is scored once, in the first window that holds it,
  /// so texts longer than the context keep at least `window - stride` tokens of context.
  /// `tools/reference/make_fixtures.py` computes the same with transformers.
  public func perplexity(
    tokens: [Int],
    stride: Int? = nil,
    isCancelled: (() -> Bool)? = nil
  ) throws -> PerplexityResult {
    guard !tokens.isEmpty else { throw EngineError.emptyInput("perplexity needs at least one token") }
    let c = configuration
    guard let bos = c.bosTokenId ?? c.eosTokenId else {
      throw EngineError.invalidConfiguration(path: "config.json", reason: "no bos_token_id to start the text")
    }
    let sequence = [bos] + tokens
    let window = c.maxPositionEmbeddings
    let step = stride ?? max(1, window / 2)
    guard step > 0, step <= window else {
      throw EngineError.invalidParameter(name: "stride", reason: "must be in 1...\(window), got \(step)")
    }
    let vocab = c.vocabSize
    let cache = makeCache(capacity: min(window, sequence.count))
    var nll = 0.0
    var scored = 0
    var scoredTo = 1
    var begin = 0
    while scoredTo < sequence.count {
      let end = min(begin + window, sequence.count)
      cache.reset()
      let hidden = try forward(tokens: sequence[begin ..< end], cache: cache, isCancelled: isCancelled)
      // Rows predict the next token; score positions scoredTo..<end, a few rows at a time so
      // that a 2048-token window never holds 2048 × vocab logits at once.
      let firstRow = scoredTo - 1 - begin
      let lastRow = end - 1 - begin
      var row = firstRow
      while row < lastRow {
        let rows = row ..< min(row + 16, lastRow)
        let logits = logits(hidden: hidden, rows: rows)
        logits.withUnsafeBufferPointer { buffer in
          for (i, r) in rows.enumerated() {
            let scores = buffer.baseAddress! + i * vocab
            let target = sequence[begin + r + 1]
            nll += gn_logsumexp(scores, vocab) - Double(scores[target])
          }
        }
        scored += rows.count
        row = rows.upperBound
      }
      scoredTo = end
      begin += step
    }
    let mean = nll / Double(scored)
    return PerplexityResult(perplexity: exp(mean), meanNLL: mean, tokens: scored)
  }
}
