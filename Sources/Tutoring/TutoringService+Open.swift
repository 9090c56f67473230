import Curriculum
import Engine
import Foundation
import Logging
import TutorStore

// Assembling the core from files (the database, the curricula, the encoder and the model), and
// the lifecycle calls a server makes around serving.
extension TutoringService {
  /// Where the core's parts come from, and how they run.
  public struct Configuration: Sendable {
    public var modelDirectory: URL
    public var curriculaDirectory: String
    /// A sentence-transformers encoder for hybrid retrieval; nil: BM25 alone.
    public var encoderDirectory: String?
    /// Where snippet embeddings are cached between runs (nil: not cached).
    public var embeddingCacheFolder: String?
    /// The learning record: a SQLite file (one server) or a PostgreSQL database (replicas).
    public var database: DatabaseLocation
    /// The most PostgreSQL connections this process holds.
    public var databaseConnections = 8
    /// How long a replica may go without renewing its lease before the turns it is answering
    /// count as interrupted (it renews three times per lease).
    public var leaseDuration: Duration = .seconds(15)
    /// Text of turns and attempts older than this is removed while serving (nil: kept).
    public var retention: Duration?
    /// Compute threads per forward pass (nil: one per core).
    public var threads: Int?
    /// How the model's large matrices are held in memory.
    public var weightFormat: WeightFormat = .float32
    /// How each generation's attention cache holds keys and values.
    public var kvCacheFormat: KVCacheFormat = .float32
    /// Generations decoded together in one batch, and those that may wait for a slot
    /// (RESOURCE_EXHAUSTED beyond).
    public var maxConcurrentGenerations = 8
    public var maxQueuedGenerations = 32
    /// Memory for prompt prefixes shared across generations (nil: a default from the model's
    /// size; 0: off).
    public var prefixCacheBytes: Int?
    /// The longest draft of prompt-lookup decoding (0: off).
    public var promptLookupTokens = 8
    /// Where packed-weights files are kept, mapped on the next start instead of repacking (nil: none).
    public var packedWeightsDirectory: URL?
    public var limits = Limits()

    public init(modelDirectory: URL, curriculaDirectory: String, database: DatabaseLocation) {
      self.modelDirectory = modelDirectory
      self.curriculaDirectory = curriculaDirectory
      self.database = database
    }
  }

  /// Opens (or creates) the database, marks turns that processes no longer alive left
  /// unfinished as interrupted (SQLite: every one; PostgreSQL: those of replicas whose lease
  /// expired), loads the curricula (with the encoder, when there is one) and the model, and
  /// logs what each step found and cost.
  public static func open(
    _ configuration: Configuration,
    logger: Logger = Logger(label: "tutor.tutoring")
  ) async throws -> TutoringService {
    let clock = ContinuousClock()
    func milliseconds(since start: ContinuousClock.Instant) -> String {
      "\((clock.now - start).milliseconds)"
    }
    var start = clock.now
    let store = try await LearningRecordStore.open(
      configuration.database,
      connections: configuration.databaseConnections,
      // A replica may start before its database does.
      patience: .seconds(30),
      logger: logger
    )
    let interrupted: Int
    if store.isShared {
      try await store.renewLease()
      interrupted = try await store.interruptOrphanedTurns(
        leaseMilliseconds: configuration.leaseDuration.milliseconds
      )
    } else {
      interrupted = try await store.markInterruptedTurns()
    }
    var metadata: Logger.Metadata = [
      "database": "\(configuration.database)", "replica": "\(store.replicaId)",
      "ms": "\(milliseconds(since: start))",
    ]
    if let path = configuration.database.path {
      metadata["bytes"] = "\((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)"
    }
    logger.info("database open and migrated", metadata: metadata)
    if interrupted > 0 {
      logger.warning(
        "marked turns left unfinished by a process no longer running as interrupted",
        metadata: ["count": "\(interrupted)"]
      )
    }
    start = clock.now
    var retrieval = CurriculumCatalog.Retrieval.bm25
    if let directory = configuration.encoderDirectory {
      retrieval.encoder = try SnippetEncoder.load(directory: directory, threads: configuration.threads)
      retrieval.cacheFolder = configuration.embeddingCacheFolder
      logger.info(
        "sentence encoder loaded: retrieval fuses BM25 with embeddings",
        metadata: ["encoder": "\(directory)", "ms": "\(milliseconds(since: start))"]
      )
    } else {
      logger.notice("no sentence encoder (see --encoder): retrieval is BM25 alone")
    }
    start = clock.now
    let catalog = try CurriculumCatalog(root: configuration.curriculaDirectory, retrieval: retrieval)
    let snapshot = catalog.snapshot
    for diagnostic in snapshot.diagnostics {
      logger.warning("curriculum problem", metadata: ["diagnostic": "\(diagnostic)"])
    }
    logger.info(
      "curricula loaded and indexed",
      metadata: [
        "curricula": "\(snapshot.curricula.map(\.id))",
        "lessons": "\(snapshot.curricula.reduce(0) { $0 + $1.lessons.count })",
        "snippets": "\(snapshot.curricula.reduce(0) { $0 + $1.snippets.count })",
        "embedded": "\(snapshot.index.embeddingReport?.embedded ?? 0)",
        "embeddings_from_cache": "\(snapshot.index.embeddingReport?.reused ?? 0)",
        "ms": "\(milliseconds(since: start))",
      ]
    )
    start = clock.now
    let model = try TutorModel.load(
      directory: configuration.modelDirectory,
      threads: configuration.threads,
      weightFormat: configuration.weightFormat,
      kvCacheFormat: configuration.kvCacheFormat,
      maxConcurrentGenerations: configuration.maxConcurrentGenerations,
      maxQueuedGenerations: configuration.maxQueuedGenerations,
      prefixCacheBytes: configuration.prefixCacheBytes,
      promptLookupTokens: configuration.promptLookupTokens,
      packedWeightsDirectory: configuration.packedWeightsDirectory
    )
    logger.info(
      "model loaded",
      metadata: [
        "model": "\(model.name)", "directory": "\(configuration.modelDirectory.path)",
        "parameters": "\(model.model.parameterCount)", "weight_bytes": "\(model.model.weightBytes)",
        "context": "\(model.contextLength)", "weights": "\(configuration.weightFormat)",
        "kv_cache": "\(configuration.kvCacheFormat)",
        "threads": "\(model.model.threads)", "ms": "\(milliseconds(since: start))",
        "prefix_cache_mb": "\((model.batcher.prefixCache?.budgetBytes ?? 0) >> 20)",
        "prompt_lookup": "\(model.batcher.promptLookup?.draftTokens ?? 0)",
        "packed_weights": "\(model.model.packedWeights)",
      ]
    )
    return TutoringService(
      catalog: catalog,
      model: model,
      store: store,
      limits: configuration.limits,
      logger: logger
    )
  }

  /// Checks bearer tokens against this core's database.
  public var accessTokens: AccessTokens { AccessTokens(store: store) }

  /// Tokens that are not revoked (a server with none refuses every call).
  public func activeTokenCount() async throws -> Int { try await store.activeTokenCount() }

  /// Sets the active-sessions gauge from the database (once, when serving starts).
  public func reportActiveSessions() async { await store.reportActiveSessions() }

  /// Stops the model's batcher; generations still running finish as cancelled.
  public func shutdown() { model.shutdown() }

  /// What keeps a replica's place among others while it serves, until the task is cancelled:
  /// it renews its lease three times per `leaseDuration` and marks the turns of replicas whose
  /// lease expired (they died mid-answer) as interrupted; with PostgreSQL it also reloads the
  /// curricula when another replica announces a reload. With a `retention`, it removes text
  /// older than that at the start and every hour (``purgeText(olderThan:)``).
  public func maintain(leaseDuration: Duration, retention: Duration? = nil) async {
    await withTaskGroup(of: Void.self) { group in
      if let retention {
        group.addTask {
          while !Task.isCancelled {
            do {
              try await self.purgeText(olderThan: retention)
            } catch {
              self.logger.error("retention: cannot remove old text", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(3600))
          }
        }
      }
      group.addTask {
        while !Task.isCancelled {
          do {
            try await self.store.renewLease()
            let interrupted = try await self.store.interruptOrphanedTurns(
              leaseMilliseconds: leaseDuration.milliseconds
            )
            if interrupted > 0 {
              self.logger.warning(
                "marked turns of a replica whose lease expired as interrupted",
                metadata: ["count": "\(interrupted)"]
              )
            }
          } catch {
            self.logger.error("cannot renew this replica's lease", metadata: ["error": "\(error)"])
          }
          try? await Task.sleep(for: leaseDuration / 3)
        }
      }
      group.addTask {
        for await _ in self.store.reloadAnnouncements() {
          let report = self.catalog.reload()
          self.logger.info(
            "curricula reloaded: another replica reloaded them",
            metadata: [
              "reloaded": "\(report.reloaded)", "kept_previous": "\(report.keptPrevious)",
              "removed": "\(report.removed)",
            ]
          )
        }
      }
    }
  }

  /// Forgets this replica's lease, after a clean stop (its turns are all finished by then).
  public func releaseLease() async {
    do {
      try await store.releaseLease()
    } catch {
      logger.warning("cannot release this replica's lease", metadata: ["error": "\(error)"])
    }
  }

  /// Closes the database (after ``shutdown()``, when nothing runs any more).
  public func close() throws { try store.close() }
}
