import Foundation

/// Copy support for ``Grounding``: follows which spans of the sources the generated tokens are
/// copying, and offers a logit bonus to the tokens that would continue them.
///
/// The state is a set of pointers into the sources, each saying "the last `length` generated
/// tokens equal the source's tokens just before `position`". A pointer is born when a token equals
/// a source's first token at a sentence boundary (a *start*), or equals any source token (a
/// *mid-source* match, which only earns a bonus once it is two tokens long, so a common word alone
/// never drags the answer into the middle of a note). Each accepted token advances the pointers it
/// continues and drops the rest.
struct CopySupport {
  private struct Pointer: Hashable {
    var source: Int
    var position: Int
    var length: Int
    var fromStart: Bool
  }

  private let sources: [Grounding.Source]
  private let bias: Float
  /// token → (source, position) of each occurrence.
  private let occurrences: [Int: [(source: Int, position: Int)]]
  private var pointers: [Pointer] = []
  /// Sources already started (never offered again as a start).
  private var started = Set<Int>()
  private var lastCompleted: Int?
  private var sentences = 0
  private var atBoundary = true

  /// A start's bonus shrinks by this factor with every sentence already written, so the model's
  /// own wish to stop wins more easily as the answer grows.
  static let sentenceDecay: Float = 0.7
  /// After a sentence of a note, the note's next sentence gets the whole bonus (a note's sentences
  /// follow one another); its other sentences this share, weighted, and other notes' sentences
  /// ``otherNoteFactor``.
  static let sameNoteFactor: Float = 0.3
  static let otherNoteFactor: Float = 0.2

  init(sources: [Grounding.Source], bias: Float) {
    self.sources = sources.filter { !$0.tokens.isEmpty }
    self.bias = bias
    var occurrences: [Int: [(source: Int, position: Int)]] = [:]
    for (s, source) in self.sources.enumerated() {
      for (p, token) in source.tokens.enumerated() where p > 0 {
        occurrences[token, default: []].append((s, p))
      }
    }
    self.occurrences = occurrences
  }

  /// The bonus each supported token gets now.
  func bonuses() -> [Int: Float] {
    var bonus: [Int: Float] = [:]
    func offer(_ token: Int, _ value: Float) {
      if value > bonus[token] ?? 0 { bonus[token] = value }
    }
    // A copy begun at a sentence start is followed; a match found mid-source only counts when no
    // such copy is under way (so the answer does not jump between notes mid-sentence). Among
    // competing copies the weights decide: each gets the bonus in proportion to its source's
    // weight relative to the heaviest one alive, so a copy that is alone gets all of it.
    let copying = pointers.contains { $0.fromStart && $0.position < sources[$0.source].tokens.count }
    let alive = pointers.filter { copying ? $0.fromStart : $0.length >= 2 }
    let heaviest = alive.map { sources[$0.source].weight }.max() ?? 0
    for p in alive where heaviest > 0 {
      let source = sources[p.source]
      guard p.position < source.tokens.count else { continue }
      // Longer matches are surer: a third of the bonus per matched token, up to all of it.
      let ramp = min(1, Float(p.length + 1) / 3)
      offer(source.tokens[p.position], bias * ramp * source.weight / heaviest * (p.fromStart ? 1 : 0.5))
    }
    if atBoundary {
      let decay = pow(Self.sentenceDecay, Float(sentences))
      for (s, source) in sources.enumerated() where !started.contains(s) {
        var factor = source.weight
        if let last = lastCompleted {
          if source.group != sources[last].group {
            factor = Self.otherNoteFactor * source.weight
          } else {
            factor = s == last + 1 ? 1 : Self.sameNoteFactor * source.weight
          }
        }
        offer(source.tokens[0], bias * factor * decay)
      }
    }
    return bonus
  }

  /// Tokens that continue a copy begun at a sentence start.
  func continuations() -> Set<Int> {
    Set(
      pointers.lazy.filter { $0.fromStart && $0.position < self.sources[$0.source].tokens.count }
        .map { self.sources[$0.source].tokens[$0.position] }
    )
  }

  /// Adds the bonuses to `logits` (tokens banned with -infinity stay banned).
  func apply(to logits: inout [Float]) {
    for (token, value) in bonuses() where token < logits.count && logits[token] > -.infinity {
      logits[token] += value
    }
  }

  /// Advances the pointers past the chosen token; `endsSentence` says whether its text ends a
  /// sentence (the caller decodes each token once).
  mutating func accept(_ token: Int, endsSentence: Bool) {
    struct Key: Hashable {
      var source: Int
      var position: Int
    }
    var next: [Key: Pointer] = [:]
    var completed: Int?
    func add(_ p: Pointer) {
      if p.position == sources[p.source].tokens.count {
        // A source is written when a copy from its start reaches its end.
        if p.fromStart { completed = p.source }
        return
      }
      let key = Key(source: p.source, position: p.position)
      // One pointer per place: a start beats a mid-source match, then the longer match wins.
      if let old = next[key], (old.fromStart ? 1 : 0, old.length) >= (p.fromStart ? 1 : 0, p.length) {
        return
      }
      next[key] = p
    }
    for p in pointers
    where p.position < sources[p.source].tokens.count && sources[p.source].tokens[p.position] == token {
      add(Pointer(source: p.source, position: p.position + 1, length: p.length + 1, fromStart: p.fromStart))
    }
    if atBoundary {
      for (s, source) in sources.enumerated() where !started.contains(s) && source.tokens[0] == token {
        started.insert(s)
        add(Pointer(source: s, position: 1, length: 1, fromStart: true))
      }
    }
    // Mid-source matches only in sources not copied yet: what was copied is not copied again.
    for (s, position) in occurrences[token] ?? [] where !started.contains(s) {
      add(Pointer(source: s, position: position + 1, length: 1, fromStart: false))
    }
    pointers = next.values.sorted { ($0.source, $0.position) < ($1.source, $1.position) }
    if let completed {
      started.insert(completed)
      lastCompleted = completed
    }
    let boundary = completed != nil || endsSentence
    if boundary, !atBoundary { sentences += 1 }
    atBoundary = boundary
  }
}

/// Bans tokens that would repeat an n-gram of the generated tokens (transformers'
/// `NoRepeatNGramLogitsProcessor`, restricted to the generated part).
enum NGramBlocker {
  static func banned(size n: Int, generated: [Int]) -> Set<Int> {
    guard n > 0, generated.count >= n - 1 else { return [] }
    if n == 1 { return Set(generated) }
    let prefix = generated.suffix(n - 1)
    var banned = Set<Int>()
    var i = 0
    while i + n <= generated.count {
      if generated[i ..< i + n - 1].elementsEqual(prefix) { banned.insert(generated[i + n - 1]) }
      i += 1
    }
    return banned
  }
}
