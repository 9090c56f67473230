import Curriculum
import Synchronization
import Tutoring

/// The encoder for `bench retrieval`'s generated corpus: a call with more than `sample` texts (the
/// index build) embeds the first `sample` for real, timed, and gives the others copies of those
/// vectors, each moved by a little seeded noise (exact copies would tie, which real snippets
/// don't); queries (a text or two) are embedded for real.
final class SampledEmbedder: TextEmbedder {
  let encoder: SnippetEncoder
  let sample: Int
  let timing = Mutex((count: 0, seconds: 0.0))

  init(encoder: SnippetEncoder, sample: Int) {
    self.encoder = encoder
    self.sample = sample
  }

  var fingerprint: String { encoder.fingerprint + "-sampled-\(sample)" }
  var dimension: Int { encoder.dimension }

  func embed(_ texts: [String]) throws -> [[Float]] {
    guard texts.count > sample else { return try encoder.embed(texts) }
    let start = ContinuousClock.now
    let real = try encoder.embed(Array(texts.prefix(sample)))
    timing.withLock { $0 = (sample, (ContinuousClock.now - start) / .seconds(1)) }
    var rng = SplitMix(seed: 7)
    return texts.indices.map { i in
      let v = real[i % sample]
      guard i >= sample else { return v }
      let moved = v.map { $0 + Float(rng.unit() - 0.5) * 0.02 }
      let norm = moved.reduce(0) { $0 + $1 * $1 }.squareRoot()
      return moved.map { $0 / norm }
    }
  }
}
