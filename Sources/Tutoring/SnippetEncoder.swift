import Curriculum
import Engine
import Foundation
import Synchronization

/// The engine's sentence encoder as the retrieval index's ``TextEmbedder``: the one place where
/// the curricula's search and the engine meet.
///
/// Questions' vectors are kept in a small cache (the most recent 4,096 texts): a class asks the
/// same questions again ("what is photosynthesis?"), and each embedding costs several
/// milliseconds of the cores that generate answers.
public final class SnippetEncoder: TextEmbedder {
  public let encoder: SentenceEncoder
  private let recent: Mutex<RecentVectors>
  /// Calls with more texts than this (building an index) bypass the cache.
  static let cachedCallSize = 4

  /// - Parameter cachedQuestions: how many questions' vectors to keep (0: none, as benchmarks
  ///   of the encoder want).
  public init(_ encoder: SentenceEncoder, cachedQuestions: Int = 4096) {
    self.encoder = encoder
    recent = Mutex(RecentVectors(capacity: cachedQuestions))
  }

  /// Loads a sentence-transformers folder (e.g. `models/all-MiniLM-L6-v2`).
  public static func load(
    directory: String,
    threads: Int? = nil,
    cachedQuestions: Int = 4096
  ) throws
    -> SnippetEncoder
  {
    SnippetEncoder(
      try SentenceEncoder.load(directory: URL(fileURLWithPath: directory), threads: threads),
      cachedQuestions: cachedQuestions
    )
  }

  /// The encoder shipped by `tools/fetch-models.sh`, relative to the working directory.
  public static let defaultDirectory = "models/all-MiniLM-L6-v2"

  public var fingerprint: String { encoder.fingerprint }
  public var dimension: Int { encoder.dimension }

  public func embed(_ texts: [String]) throws -> [[Float]] {
    guard texts.count <= Self.cachedCallSize, recent.withLock({ $0.capacity > 0 }) else {
      return try encoder.embed(texts)
    }
    var vectors = recent.withLock { cache in texts.map { cache.take($0) } }
    let missing = vectors.indices.filter { vectors[$0] == nil }
    guard !missing.isEmpty else { return vectors.map { $0! } }
    let fresh = try encoder.embed(missing.map { texts[$0] })
    recent.withLock { cache in
      for (i, vector) in zip(missing, fresh) {
        vectors[i] = vector
        cache.put(texts[i], vector)
      }
    }
    return vectors.map { $0! }
  }

  /// The vector of `text` if it is in the cache (nothing is computed).
  public func cachedVector(_ text: String) -> [Float]? {
    recent.withLock { $0.capacity > 0 ? $0.take(text) : nil }
  }

  /// Cache statistics: lookups answered from the cache, and all lookups.
  public var cacheHits: (hits: Int, lookups: Int) { recent.withLock { ($0.hits, $0.lookups) } }
}

/// Least-recently-used vectors by text; when full, the older half is dropped at once.
struct RecentVectors {
  let capacity: Int
  private var entries: [String: (vector: [Float], used: UInt64)] = [:]
  private var clock: UInt64 = 0
  private(set) var hits = 0
  private(set) var lookups = 0

  init(capacity: Int) { self.capacity = capacity }

  mutating func take(_ text: String) -> [Float]? {
    lookups += 1
    clock += 1
    guard let entry = entries[text] else { return nil }
    hits += 1
    entries[text] = (entry.vector, clock)
    return entry.vector
  }

  mutating func put(_ text: String, _ vector: [Float]) {
    clock += 1
    entries[text] = (vector, clock)
    guard entries.count > capacity else { return }
    let cut = entries.values.map(\.used).sorted()[entries.count / 2]
    entries = entries.filter { $0.value.used >= cut }
  }
}
