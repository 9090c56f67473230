import Curriculum
import Dispatch
import Foundation
import Synchronization

/// The curricula a server teaches from: loaded from a folder, indexed for retrieval, and
/// reloadable while serving. A curriculum whose new files have errors keeps its previous version.
public final class CurriculumCatalog: Sendable {
  /// One consistent view: the curricula and the index over exactly them.
  public struct Snapshot: Sendable {
    public let curricula: [Course]
    /// Problems found by the latest load, with paths relative to the catalog's folder.
    public let diagnostics: [CurriculumDiagnostic]
    public let index: SnippetIndex
    /// The sentence encoder's vector of every note sentence (``NoteSentences``); empty without one.
    let sentenceVectors: [String: [Float]]

    public func curriculum(_ id: String) -> Course? { curricula.first { $0.id == id } }
  }

  /// What ``reload()`` changed.
  public struct ReloadReport: Sendable, Equatable {
    public var reloaded: [String] = []
    public var keptPrevious: [String] = []
    public var removed: [String] = []
    public var diagnostics: [CurriculumDiagnostic] = []
  }

  /// How snippets are retrieved: BM25 alone, or fused with a sentence encoder's similarities.
  public struct Retrieval: Sendable {
    /// nil: BM25 alone.
    public var encoder: SnippetEncoder?
    /// Where snippet embeddings are cached between runs (nil: not cached).
    public var cacheFolder: String?

    public init(encoder: SnippetEncoder? = nil, cacheFolder: String? = nil) {
      self.encoder = encoder
      self.cacheFolder = cacheFolder
    }

    public static let bm25 = Retrieval()
  }

  public let root: String
  public let retrieval: Retrieval
  private let current: Mutex<Snapshot>
  private let reloading = Mutex(())

  /// Loads every curriculum under `root`; those with errors are skipped (see `diagnostics`). With
  /// an encoder, every snippet not found in the cache is embedded now.
  /// - Throws: ``TutoringError/notFound(_:)`` when `root` is not a folder; what the encoder
  ///   throws.
  public init(root: String, retrieval: Retrieval = .bm25) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw TutoringError.notFound("curricula folder '\(root)' does not exist")
    }
    self.root = root
    self.retrieval = retrieval
    let library = CurriculumLibrary.load(root: root)
    current = Mutex(
      try Self.snapshot(library.curricula, diagnostics: library.diagnostics, root: root, retrieval: retrieval)
    )
  }

  public var snapshot: Snapshot { current.withLock { $0 } }

  /// Searches the current index on the retrieval queue rather than on the caller's thread. With
  /// an encoder a search embeds the question (a few milliseconds of compute); on Swift's
  /// cooperative pool — two threads on a two-core machine — that would stall every other call's
  /// async work meanwhile. One search at a time: a short FIFO rather than several forward passes
  /// fighting over the cores that the generations need.
  public func search(_ query: String, curriculum: String?, lesson: String?, limit: Int) async -> [SnippetHit]
  {
    let index = snapshot.index
    return await withCheckedContinuation { continuation in
      Self.retrievalQueue.async {
        continuation.resume(
          returning: index.search(query, curriculum: curriculum, lesson: lesson, limit: limit)
        )
      }
    }
  }

  /// The vector of `text` if the encoder computed it lately (a search of the same text), without
  /// waiting for the retrieval queue; nil otherwise or without an encoder.
  public func cachedEmbedding(_ text: String) -> [Float]? { retrieval.encoder?.cachedVector(text) }

  /// The sentence encoder's vector of `text` on the retrieval queue (cached, so the search for
  /// the same question reuses it); nil without an encoder.
  public func embedding(_ text: String) async -> [Float]? {
    guard let encoder = retrieval.encoder else { return nil }
    return await withCheckedContinuation { continuation in
      Self.retrievalQueue.async { continuation.resume(returning: try? encoder.embed([text]).first) }
    }
  }

  /// Cosine similarity of `query` to each of `texts` by the sentence encoder, on the retrieval
  /// queue; nil without an encoder (or if it fails). Note sentences' vectors were computed with
  /// the snapshot; other texts are embedded now.
  public func similarities(_ query: String, to texts: [String]) async -> [Float]? {
    guard let encoder = retrieval.encoder, !texts.isEmpty else { return nil }
    let known = snapshot.sentenceVectors
    // Usually everything is at hand — the question's vector since its search, the notes' with the
    // snapshot — and this is a few dot products, done here rather than after the other searches
    // waiting on the retrieval queue.
    if let q = encoder.cachedVector(query) {
      let vectors = texts.compactMap { known[$0] }
      if vectors.count == texts.count { return vectors.map { Self.cosine(q, $0) } }
    }
    return await withCheckedContinuation { continuation in
      Self.retrievalQueue.async {
        do {
          // The question's vector is in the encoder's cache since its search.
          let q = try encoder.embed([query])[0]
          var result: [Float] = []
          for text in texts {
            let v = try known[text] ?? encoder.embed([text])[0]
            result.append(Self.cosine(q, v))
          }
          continuation.resume(returning: result)
        } catch {
          continuation.resume(returning: nil)
        }
      }
    }
  }

  static func cosine(_ a: [Float], _ b: [Float]) -> Float {
    var dot: Float = 0
    var na: Float = 0
    var nb: Float = 0
    for i in 0 ..< min(a.count, b.count) {
      dot += a[i] * b[i]
      na += a[i] * a[i]
      nb += b[i] * b[i]
    }
    return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : 0
  }

  private static let retrievalQueue = DispatchQueue(label: "tutor.retrieval", qos: .userInitiated)

  /// Re-reads the folder. New valid curricula replace the old; a curriculum whose folder now has
  /// errors keeps serving its previous version; folders that disappeared are dropped. Only
  /// snippets whose text changed are embedded again.
  @discardableResult
  public func reload() -> ReloadReport {
    // One reload at a time (each builds from the snapshot the one before it left).
    reloading.withLock { _ in reloadNow() }
  }

  private func reloadNow() -> ReloadReport {
    let library = CurriculumLibrary.load(root: root)
    var report = ReloadReport()
    var curricula = library.curricula
    let skipped = Set(library.skipped.map { ($0 as NSString).standardizingPath })
    for old in snapshot.curricula where !curricula.contains(where: { $0.id == old.id }) {
      if skipped.contains((old.directory as NSString).standardizingPath) {
        curricula.append(old)
        report.keptPrevious.append(old.id)
      } else {
        report.removed.append(old.id)
      }
    }
    curricula.sort { $0.id < $1.id }
    report.reloaded = library.curricula.map(\.id)
    // Built outside the lock: embedding changed snippets takes a while, and searches go on
    // meanwhile with the previous snapshot.
    let fresh = Self.snapshotFallingBack(
      curricula,
      diagnostics: library.diagnostics,
      root: root,
      retrieval: retrieval
    )
    current.withLock { $0 = fresh }
    report.diagnostics = fresh.diagnostics
    return report
  }

  private static func snapshot(
    _ curricula: [Course],
    diagnostics: [CurriculumDiagnostic],
    root: String,
    retrieval: Retrieval
  ) throws -> Snapshot {
    let library = CurriculumLibrary(curricula: curricula)
    let index =
      if let encoder = retrieval.encoder {
        try SnippetIndex(library: library, embedder: encoder, cacheFolder: retrieval.cacheFolder)
      } else {
        SnippetIndex(library: library)
      }
    // The notes' sentences, embedded once (and kept on disk beside the snippets' vectors), so
    // that choosing which sentence an answer follows costs the question's vector and dot
    // products, not a forward pass per sentence.
    var sentenceVectors: [String: [Float]] = [:]
    if let encoder = retrieval.encoder {
      let sentences = Array(Set(curricula.flatMap(\.snippets).flatMap { NoteSentences.split($0.text) }))
        .sorted()
      let (vectors, _) = try EmbeddingCache.embed(
        sentences,
        with: encoder,
        cacheFolder: retrieval.cacheFolder,
        cacheName: encoder.fingerprint + "-sentences"
      )
      sentenceVectors = Dictionary(uniqueKeysWithValues: zip(sentences, vectors))
    }
    return Snapshot(
      curricula: curricula,
      diagnostics: diagnostics.map { relativise($0, to: root) },
      index: index,
      sentenceVectors: sentenceVectors
    )
  }

  /// A reload must not fail: should the encoder throw, the reloaded curricula are searched with
  /// BM25 alone (``SnippetIndex/isHybrid`` says which).
  private static func snapshotFallingBack(
    _ curricula: [Course],
    diagnostics: [CurriculumDiagnostic],
    root: String,
    retrieval: Retrieval
  ) -> Snapshot {
    (try? snapshot(curricula, diagnostics: diagnostics, root: root, retrieval: retrieval))
      ?? Snapshot(
        curricula: curricula,
        diagnostics: diagnostics.map { relativise($0, to: root) },
        index: SnippetIndex(library: CurriculumLibrary(curricula: curricula)),
        sentenceVectors: [:]
      )
  }

  private static func relativise(_ d: CurriculumDiagnostic, to root: String) -> CurriculumDiagnostic {
    var d = d
    let prefix = (root as NSString).standardizingPath + "/"
    let file = (d.file as NSString).standardizingPath
    if file.hasPrefix(prefix) { d.file = String(file.dropFirst(prefix.count)) }
    return d
  }

  // MARK: Validation of uploaded files

  /// Limits on ``validate(files:)``.
  public static let maxValidationFiles = 500
  public static let maxValidationBytes = 8 << 20

  /// Lints curriculum files sent by a client, exactly as `tutor curriculum lint` does, in a
  /// scratch folder that is removed afterwards. Diagnostics name the files as sent.
  /// - Throws: ``TutoringError/invalidArgument(_:)`` for unsafe paths or too much data.
  public static func validate(files: [(path: String, content: Data)]) throws -> [CurriculumDiagnostic] {
    guard !files.isEmpty else {
      throw TutoringError.invalidArgument("files is empty: send at least curriculum.yaml")
    }
    guard files.count <= maxValidationFiles else {
      throw TutoringError.invalidArgument(
        "\(files.count) files sent; at most \(maxValidationFiles) are accepted"
      )
    }
    let total = files.reduce(0) { $0 + $1.content.count }
    guard total <= maxValidationBytes else {
      throw TutoringError.invalidArgument("\(total) bytes sent; at most \(maxValidationBytes) are accepted")
    }
    let fm = FileManager.default
    let scratch = fm.temporaryDirectory.appendingPathComponent("tutor-validate-\(UUID().uuidString)")
    try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: scratch) }
    var seen = Set<String>()
    for file in files {
      let parts = file.path.split(separator: "/", omittingEmptySubsequences: false)
      guard !file.path.isEmpty, !file.path.hasPrefix("/"),
        !parts.contains(where: { $0 == ".." || $0.isEmpty }),
        !file.path.contains("\\"), !file.path.contains("\0")
      else {
        throw TutoringError.invalidArgument(
          "file path '\(file.path)' must be relative, without '..', empty parts or backslashes"
        )
      }
      guard seen.insert(file.path).inserted else {
        throw TutoringError.invalidArgument("file '\(file.path)' is sent twice")
      }
      let url = scratch.appendingPathComponent(file.path)
      try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try file.content.write(to: url)
    }
    let library = CurriculumLibrary.load(paths: [scratch.path])
    return library.diagnostics.map { relativise($0, to: scratch.path) }
  }
}
