import ArgumentParser
import Engine
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import TutorServer
import TutorStore
import Tutoring
import UnixSignals

struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the tutoring gRPC server (tutor.v1 services + grpc.health.v1).",
    discussion: """
      Loads the model and the curricula, opens (or creates) the session database, and serves gRPC \
      over HTTP/2 until SIGINT or SIGTERM, which finish the calls in progress before exiting. \
      Turns a previous run left unfinished are marked interrupted at start-up.
      """
  )

  /// Where the bundled tutor model is installed.
  static let bundledModel = "models/tutor"

  @Option(
    name: .long,
    help: ArgumentHelp(
      "GPT-Neo checkpoint directory (default: the bundled model, \(bundledModel)).",
      valueName: "dir"
    )
  )
  var model = bundledModel

  @Option(name: .long, help: ArgumentHelp("Folder of curricula.", valueName: "dir"))
  var curricula = "curricula"

  @OptionGroup var retrieval: RetrievalOptions

  @OptionGroup var database: DatabaseOptions

  @Option(
    name: .customLong("lease-seconds"),
    help:
      "With PostgreSQL: how long a replica may go silent before the questions it was answering are marked interrupted by another."
  )
  var leaseSeconds = 15.0

  @Option(name: .long, help: "Address to listen on.")
  var host = "127.0.0.1"

  @Option(name: .long, help: "Port to listen on (0: pick a free one and log it).")
  var port = 50051

  @Option(name: .long, help: "Compute threads per forward pass (default: every core).")
  var threads: Int?

  @Option(
    name: .long,
    help: "How the model's large matrices are held: float32 (exact), float16 or int8 (faster, less memory)."
  )
  var weights: WeightFormat = .float32

  @Option(
    name: .customLong("kv-cache"),
    help:
      "How each session's attention cache holds keys and values: float32 (exact), float16 or int8 (a quarter of the memory)."
  )
  var kvCache: KVCacheFormat = .float32

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Memory for the keys and values of prompt prefixes shared across sessions (the lesson's instructions, a session's last turn); 0: off (default: an eighth of the weights, 32 MiB to 1 GiB).",
      valueName: "MiB"
    )
  )
  var prefixCacheMb: Int?

  @Option(
    name: .long,
    help:
      "Prompt-lookup decoding: the longest draft, verified in one pass (answers quote the notes); the tokens are the same as without it. 0: off."
  )
  var promptLookup = 8

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Keep the model's packed weights here and map them on the next start instead of repacking (default: packed/ in the data folder: $TUTOR_DATA_DIR, else $XDG_DATA_HOME/tutor or ~/.local/share/tutor).",
      valueName: "dir"
    )
  )
  var packedWeights: String?

  @Flag(name: .long, help: "Pack the weights at every start and keep no file.") var noPackedWeights = false

  @Option(name: .long, help: "Generations decoded together (continuous batching); more wait in a queue.")
  var maxConcurrentGenerations = 8

  @Option(name: .long, help: "Generations that may wait; beyond that calls get RESOURCE_EXHAUSTED.")
  var maxQueuedGenerations = 32

  @Option(name: .long, help: "Most tokens one answer may ask for.")
  var maxNewTokens = 1024

  @Option(
    name: .long,
    help: ArgumentHelp("PEM certificate chain: serve TLS (with --tls-key).", valueName: "path")
  )
  var tlsCert: String?

  @Option(name: .long, help: ArgumentHelp("PEM private key for --tls-cert.", valueName: "path"))
  var tlsKey: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "File holding the secret for pseudonymised exports (else $TUTOR_PSEUDONYM_SECRET; without either, ExportSessions refuses pseudonymize).",
      valueName: "path"
    )
  )
  var pseudonymSecretFile: String?

  @Option(name: .long, help: "The server's public home page (xAPI actor accounts and activity ids).")
  var homePage = "https://tutor.invalid"

  @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
  var logLevel = "info"

  @Option(
    name: .long,
    help: "Serve Prometheus metrics at http://HOST:PORT/metrics (plain HTTP, no token); off by default."
  )
  var metricsPort: Int?

  @Option(name: .long, help: "Address of the metrics endpoint (default: --host).")
  var metricsHost: String?

  @Option(
    name: .long,
    help: "Seconds calls in progress may run on after SIGTERM/SIGINT; then they are cancelled."
  )
  var shutdownGraceSeconds: Double = 30

  @Option(
    name: .long,
    help:
      "Calls a second per caller (student, else token), counted by each replica on its own; 0: no limit."
  )
  var rateLimit: Double = 10

  @Option(name: .long, help: "Calls a caller may make at once before --rate-limit applies.")
  var rateBurst: Double = 40

  @Option(name: .long, help: "Longest question, in the model's tokens.")
  var maxQuestionTokens = 512

  @Flag(
    help:
      "Redact names given as \"my name is …\" in questions and answers, as emails, phone numbers and street addresses always are."
  )
  var redactNames = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Screening rules (YAML: categories, patterns, benign phrases, actions, replies); default: the built-in rules (`tutor safety rules` prints them).",
      valueName: "file"
    )
  )
  var safetyConfig: String?

  @Option(
    name: .long,
    help:
      "Remove the text of turns and attempts older than this many days (checked hourly); counts, mastery and flags stay."
  )
  var retentionDays: Int?

  @Flag(
    name: .long,
    help: "Serve without authentication: every caller is an admin. Local demos only; never on a network."
  )
  var insecureNoAuth = false

  func validate() throws {
    guard (0 ... 65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
    if let metricsPort, !(0 ... 65535).contains(metricsPort) {
      throw ValidationError("--metrics-port must be 0...65535, got \(metricsPort)")
    }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    guard leaseSeconds >= 1 else { throw ValidationError("--lease-seconds must be at least 1") }
    guard maxConcurrentGenerations >= 1 else {
      throw ValidationError("--max-concurrent-generations must be at least 1")
    }
    guard maxQueuedGenerations >= 0 else {
      throw ValidationError("--max-queued-generations must not be negative")
    }
    guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1") }
    guard (0 ... BatchedGenerator.PromptLookup.maxDraft).contains(promptLookup) else {
      throw ValidationError(
        "--prompt-lookup must be 0 (off) to \(BatchedGenerator.PromptLookup.maxDraft), got \(promptLookup)"
      )
    }
    if let prefixCacheMb, !(0 ... (1 << 20)).contains(prefixCacheMb) {
      throw ValidationError("--prefix-cache-mb must be 0 (off) to 1048576, got \(prefixCacheMb)")
    }
    guard rateLimit >= 0, rateBurst >= 1 else {
      throw ValidationError("--rate-limit must be 0 (off) or more and --rate-burst at least 1")
    }
    guard shutdownGraceSeconds >= 0 else {
      throw ValidationError("--shutdown-grace-seconds must not be negative")
    }
    if let retentionDays, retentionDays < 1 {
      throw ValidationError("--retention-days must be at least 1, got \(retentionDays)")
    }
    guard maxQuestionTokens >= 1 else { throw ValidationError("--max-question-tokens must be at least 1") }
    guard (tlsCert == nil) == (tlsKey == nil) else {
      throw ValidationError("--tls-cert and --tls-key go together")
    }
    guard Logger.Level(rawValue: logLevel) != nil else {
      throw ValidationError("unknown --log-level '\(logLevel)'")
    }
  }

  static func defaultDatabase() -> String {
    (defaultDataDirectory() as NSString).appendingPathComponent("tutor.sqlite")
  }

  /// $TUTOR_DATA_DIR, else $XDG_DATA_HOME/tutor, else ~/.local/share/tutor.
  static func defaultDataDirectory() -> String {
    let env = ProcessInfo.processInfo.environment
    if let data = env["TUTOR_DATA_DIR"], !data.isEmpty { return data }
    if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty {
      return (xdg as NSString).appendingPathComponent("tutor")
    }
    return (NSHomeDirectory() as NSString).appendingPathComponent(".local/share/tutor")
  }

  func run() async throws {
    let level = Logger.Level(rawValue: logLevel) ?? .info
    // Every line logged while serving a call carries its request id.
    LoggingSystem.bootstrap(
      { label, metadataProvider in
        var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        handler.logLevel = level
        return handler
      },
      metadataProvider: GRPCTutorServer.loggingMetadata
    )
    let logger = Logger(label: "tutor.server")
    guard FileManager.default.fileExists(atPath: (model as NSString).appendingPathComponent("config.json"))
    else {
      Console.error(
        "error: \(model): no GPT-Neo checkpoint here (config.json is missing); pass --model DIR"
          + (model == Self.bundledModel ? " (the bundled model is installed at \(Self.bundledModel))" : "")
      )
      throw ExitCode.failure
    }
    var configuration = TutorServerConfiguration(
      modelDirectory: URL(fileURLWithPath: model),
      curriculaDirectory: curricula,
      database: try database.location
    )
    configuration.databaseConnections = database.dbConnections
    configuration.leaseDuration = .milliseconds(Int64(leaseSeconds * 1000))
    configuration.encoderDirectory = try retrieval.encoderDirectory
    configuration.embeddingCacheFolder = retrieval.cacheFolder
    configuration.host = host
    configuration.port = port
    configuration.threads = threads
    configuration.weightFormat = weights
    configuration.kvCacheFormat = kvCache
    configuration.prefixCacheBytes = prefixCacheMb.map { $0 << 20 }
    configuration.promptLookupTokens = promptLookup
    configuration.packedWeightsDirectory =
      noPackedWeights
      ? nil
      : URL(
        fileURLWithPath: packedWeights
          ?? (Self.defaultDataDirectory() as NSString).appendingPathComponent("packed")
      )
    configuration.maxConcurrentGenerations = maxConcurrentGenerations
    configuration.maxQueuedGenerations = maxQueuedGenerations
    configuration.limits.maxNewTokens = maxNewTokens
    configuration.limits.maxQuestionTokens = maxQuestionTokens
    configuration.limits.redactNames = redactNames
    do {
      configuration.limits.safety = try SafetyCommand.screen(file: safetyConfig, redactNames: redactNames)
    } catch {
      Console.error("error: \(error)")
      throw ExitCode.failure
    }
    configuration.retention = retentionDays.map { .seconds(Int64($0) * 86_400) }
    configuration.rateLimit = rateLimit > 0 ? (rateLimit, rateBurst) : nil
    configuration.tlsCertificatePath = tlsCert
    configuration.tlsKeyPath = tlsKey
    configuration.authentication = insecureNoAuth ? .insecureNoAuth : .tokens
    configuration.shutdownGracePeriod = .milliseconds(Int64(shutdownGraceSeconds * 1000))
    if let metricsPort {
      let registry = PrometheusCollectorRegistry()
      MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
      configuration.metrics = MetricsSettings(
        host: metricsHost ?? host,
        port: metricsPort,
        registry: registry
      )
    }
    var secret = ProcessInfo.processInfo.environment["TUTOR_PSEUDONYM_SECRET"].flatMap {
      $0.isEmpty ? nil : $0
    }
    if let pseudonymSecretFile {
      guard let text = try? String(contentsOfFile: pseudonymSecretFile, encoding: .utf8),
        !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
      else {
        Console.error("error: \(pseudonymSecretFile): cannot read a pseudonym secret from it")
        throw ExitCode.failure
      }
      secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    configuration.exports = ExportSettings(pseudonymSecret: secret, homePage: homePage)
    let server: GRPCTutorServer
    do {
      server = try await reportingErrors { try await GRPCTutorServer.load(configuration, logger: logger) }
    } catch let error as TutoringError {
      Console.error("error: \(error)")
      throw ExitCode.failure
    } catch let error as TutorStoreError {
      Console.error("error: \(error)")
      throw ExitCode.failure
    } catch let error as CocoaError {
      Console.error(
        "error: \(configuration.database): cannot create the database: \(error.localizedDescription)"
      )
      throw ExitCode.failure
    } catch let error where !(error is ExitCode) {
      Console.error("error: cannot start: \(error)")
      throw ExitCode.failure
    }
    let group = ServiceGroup(
      configuration: .init(
        services: [.init(service: server)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
    )
    do {
      try await group.run()
    } catch {
      Console.error("error: cannot serve on \(host):\(port): \(error)")
      throw ExitCode.failure
    }
    do {
      try server.tutoring.close()
      logger.info("database closed")
    } catch {
      Console.error("error: \(configuration.database): closing the database: \(error)")
      throw ExitCode.failure
    }
  }
}
