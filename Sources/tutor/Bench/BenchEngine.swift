import ArgumentParser
import Engine
import Foundation
import Synchronization
import Tutoring

/// `tutor bench engine` (the default of `tutor bench`): prefill, decode and concurrent decode of
/// the engine on a checkpoint, with the memory bandwidth bound measured in the same run.
struct BenchEngine: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "engine",
    abstract: "Measure the engine: prefill, decode (alone and batched), latency, memory, bandwidth bound.",
    discussion: """
      Prompts are synthetic token ids, the same formula as tools/reference/bench_peers.py uses
      (session s, position i: (1000 + 7919·i + 104729·s) mod 50000), so the peers see the same
      input; decoding is greedy and ignores <|endoftext|> so every session decodes --new-tokens.
      Each measure is run --runs times and reported as the median. For the memory of long
      sessions, give them long prompts: --concurrency 8 --prompt-tokens 960 --new-tokens 64 holds
      8 × 1024-token contexts (compare --kv-cache float32 and int8).

      --shared-prefix-tokens N gives every session's prompt the same first N tokens (as a lesson's
      instructions are the same for its students) and, with --prefix-cache on, primes the cache
      with one other prompt of that prefix before each run (not timed): time to first token then
      shows what the shared prefix cache saves; compare --prefix-cache off in the same sitting.

      The batch-1 bound is the rate of a plain read of the weights. Each decode run is compared
      with a read made just before it; with --concurrency 1, --new-tokens × --runs steps are also
      each followed by a read, and the median of the pairs' shares is printed (on a machine whose
      bandwidth drifts, the steadier measure).
      """
  )

  @OptionGroup var modelOptions: ModelOptions
  @Option(name: .long, help: "Prompt length for the decode runs.") var promptTokens = 16
  @Option(name: .long, help: "Tokens each session decodes.") var newTokens = 64
  @Option(name: .long, help: "Sessions decoding at once (continuous batching).") var concurrency = 1
  @Option(name: .long, help: "Prompt length of the prefill measure (logits of the last position only).")
  var prefillTokens = 512
  @Option(name: .long, help: "Milliseconds between session arrivals (0: all at once).") var staggerMs = 0
  @Option(name: .long, help: "Repetitions; medians are reported.") var runs = 3
  @Option(name: .long, help: "Leading prompt tokens every session shares (0: none).") var sharedPrefixTokens =
    0
  @Option(name: .long, help: "Shared prefix cache: on or off.") var prefixCache: Switch = .on
  @Option(name: .long, help: "Prefix cache memory in MiB (default: the server's default for the model).")
  var prefixCacheMb: Int?

  @Option(name: .long, help: "Prompt-lookup decoding: most draft tokens per step (0: off).")
  var promptLookup = 0
  @Option(
    name: .long,
    help: ArgumentHelp(
      "A text prompt (for prompt lookup, one whose continuation is in it) instead of synthetic ids.",
      valueName: "file"
    )
  )
  var promptFile: String?
  @Option(
    name: .long,
    help:
      "With --prompt-file: copy support toward the prompt's sentences with this bonus, as the server grounds answers in the notes (0: off; the server uses 20)."
  )
  var copyBias: Float = 0

  enum Switch: String, ExpressibleByArgument { case on, off }

  func validate() throws {
    guard sharedPrefixTokens >= 0, sharedPrefixTokens < promptTokens || sharedPrefixTokens == 0 else {
      throw ValidationError("--shared-prefix-tokens must be less than --prompt-tokens")
    }
    guard (0 ... BatchedGenerator.PromptLookup.maxDraft).contains(promptLookup) else {
      throw ValidationError("--prompt-lookup must be 0...\(BatchedGenerator.PromptLookup.maxDraft)")
    }
    guard promptFile == nil || sharedPrefixTokens == 0 else {
      throw ValidationError("--prompt-file and --shared-prefix-tokens do not go together")
    }
  }
  @Flag(name: .long, help: "Print one JSON object.") var json = false

  static func promptIds(session: Int, count: Int) -> [Int] {
    (0 ..< count).map { (1000 + 7919 * $0 + 104_729 * session) % 50_000 }
  }

  /// Session `s`'s prompt in run `run`: with a shared prefix, session 0's first tokens, then a tail
  /// of its own that no other run repeats (so only the prefix can come from the cache).
  func prompt(session s: Int, run: Int, text textPrompt: [Int]?) -> [Int] {
    if let textPrompt { return textPrompt }
    guard sharedPrefixTokens > 0 else { return Self.promptIds(session: s, count: promptTokens) }
    let own = Self.promptIds(session: 1 + s + run * (concurrency + 1), count: promptTokens)
    return Array(Self.promptIds(session: 0, count: sharedPrefixTokens) + own[sharedPrefixTokens...])
  }

  func run() async throws {
    let loadStart = Date()
    let model = try await reportingErrors { try modelOptions.loadModel() }
    let tokenizer = try await reportingErrors { try modelOptions.loadTokenizer() }
    let loadSeconds = Date().timeIntervalSince(loadStart)
    let generator = TextGenerator(model: model, tokenizer: tokenizer)
    var textPrompt: [Int]?
    var grounding = Grounding()
    if let promptFile {
      let text = try await reportingErrors { try String(contentsOfFile: promptFile, encoding: .utf8) }
      textPrompt = tokenizer.encode(text)
      if copyBias > 0 {
        // Every prose sentence of the prompt is a source (as the server splits notes), with a
        // leading space as an answer writes it.
        grounding = Grounding(
          sources: NoteSentences.split(text).map { Grounding.Source(tokens: tokenizer.encode(" " + $0)) },
          copyBias: copyBias,
          noRepeatNGramSize: 3
        )
      }
    }

    var decodeRuns: [RunResult] = []
    var firstTokens: [Int] = []
    // The bound is measured right before each decode run, on the weights themselves (the bytes a
    // batch-1 step reads, in the same pages), best of two reads; the machine's bandwidth drifts
    // from second to second, so each run is compared with its own bound.
    var probes: [Double] = []
    for run in 0 ..< runs {
      probes.append(max(model.weightReadBandwidth(), model.weightReadBandwidth()))
      let result = try await decodeRun(generator: generator, run: run, text: textPrompt, grounding: grounding)
      decodeRuns.append(result)
      firstTokens = result.session0Tokens
    }
    // Paired: batch-1 decode steps, each followed at once by a read of the weights, so that a
    // step and the bound it is compared with see the same moment of a drifting machine.
    let paired = try await reportingErrors { try pairedDecodeShares(model: model, steps: newTokens * runs) }
    // Peak memory of serving the sessions, read before the prefill measure (a server reads long
    // prompts in steps of at most 256 rows, not in one 512-row pass).
    let rss = Self.peakResidentBytes()

    // Prefill: one pass over the prompt, logits for the last position only.
    var prefill: [Double] = []
    let prefillIds = Self.promptIds(
      session: 0,
      count: min(prefillTokens, model.configuration.maxPositionEmbeddings)
    )
    for _ in 0 ..< runs {
      let cache = model.makeCache(capacity: prefillIds.count)
      let t0 = Date()
      let hidden = try model.forward(tokens: prefillIds, cache: cache)
      _ = model.logits(hidden: hidden, row: prefillIds.count - 1)
      prefill.append(Double(prefillIds.count) / Date().timeIntervalSince(t0))
    }

    let perSession = median(decodeRuns.map(\.perSessionTokensPerSecond))
    let aggregate = median(decodeRuns.map(\.aggregateTokensPerSecond))
    let ttft = median(decodeRuns.map(\.ttftP50))
    let itl50 = median(decodeRuns.map(\.itlP50))
    let itl95 = median(decodeRuns.map(\.itlP95))
    let reused = median(decodeRuns.map { Double($0.reusedTokens) })
    let acceptance = median(decodeRuns.map(\.acceptance))
    let fileBytes = Self.weightFileBytes(modelOptions.directory)
    let bandwidth = median(probes)
    let bound = bandwidth / Double(model.weightBytes)
    // Each run's decode rate over its own bound (the share of the bandwidth a session reached).
    let boundShares = zip(decodeRuns, probes).map {
      $0.perSessionTokensPerSecond / ($1 / Double(model.weightBytes))
    }

    if json {
      try Console.writeJSON([
        "model": modelOptions.model, "weights": model.weightFormat.rawValue, "threads": model.threads,
        "kv_cache": model.kvCacheFormat.rawValue, "weight_file_bytes": fileBytes,
        "peak_rss_to_weight_file": Double(rss) / Double(max(fileBytes, 1)),
        "weight_bytes": model.weightBytes, "parameters": model.parameterCount, "load_seconds": loadSeconds,
        "prompt_tokens": promptTokens, "new_tokens": newTokens, "concurrency": concurrency, "runs": runs,
        "prefill_tokens": prefillIds.count, "prefill_tokens_per_second": median(prefill),
        "decode_tokens_per_second_per_session": perSession, "decode_tokens_per_second": aggregate,
        "time_to_first_token_ms_p50": ttft * 1000, "inter_token_ms_p50": itl50 * 1000,
        "inter_token_ms_p95": itl95 * 1000, "peak_rss_bytes": rss,
        "shared_prefix_tokens": sharedPrefixTokens, "prefix_cache": prefixCache.rawValue,
        "prefix_cache_reused_tokens_per_run": reused, "prompt_lookup": promptLookup,
        "draft_tokens_accepted_per_step": acceptance, "prompt_file": promptFile ?? "",
        "bandwidth_bytes_per_second": bandwidth,
        "batch1_decode_bound_tokens_per_second": bound, "greedy_token_ids": firstTokens,
        "decode_to_bound_per_run": boundShares, "decode_to_bound_median": median(boundShares),
        "paired_step_to_bound_median": median(paired), "paired_step_to_bound_p25": percentile(paired, 0.25),
        "paired_step_to_bound_p75": percentile(paired, 0.75), "paired_steps": paired.count,
      ])
      return
    }
    func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
    // Paired steps exist for one session only.
    let pairedLine =
      paired.isEmpty
      ? ""
      : "  paired, \(paired.count) steps each followed by a read of the weights: a step reached "
        + "\(f(median(paired) * 100, 0))% of the read right after it (quartiles "
        + "\(f(percentile(paired, 0.25) * 100, 0))%, \(f(percentile(paired, 0.75) * 100, 0))%)\n"
    Console.write(
      """
      model \(modelOptions.model): \(model.parameterCount) parameters, \(model.weightFormat.rawValue) weights \
      (\(f(Double(model.weightBytes) / 1e6)) MB), \(model.kvCacheFormat.rawValue) KV cache, \(model.threads) threads, \
      loaded in \(f(loadSeconds, 2)) s
      memory bandwidth \(f(bandwidth / 1e9)) GB/s reading the weights → batch-1 decode bound \(f(bound)) tokens/s
      prefill \(prefillIds.count) tokens: \(f(median(prefill))) tokens/s
      decode, \(concurrency) session(s) × \(newTokens) tokens after \(promptTokens)-token prompts:
        \(f(perSession)) tokens/s per session, \(f(aggregate)) tokens/s in all; a session reached \
      \(f(median(boundShares) * 100, 0))% of the bound (each run against the bound read just before it: \
      \(boundShares.map { f($0 * 100, 0) + "%" }.joined(separator: ", ")))
      \(pairedLine)  time to first token p50 \(f(ttft * 1000)) ms, inter-token p50 \(f(itl50 * 1000)) ms, p95 \(f(itl95 * 1000)) ms
        shared prefix \(sharedPrefixTokens) tokens, prefix cache \(prefixCache.rawValue): \(f(reused, 0)) prompt tokens \
      per run taken from it
        prompt lookup \(promptLookup == 0 ? "off" : "up to \(promptLookup) draft tokens"): \(f(acceptance, 2)) \
      draft tokens accepted per step
      peak resident memory \(f(Double(rss) / 1e6)) MB, \(f(Double(rss) / Double(max(fileBytes, 1)), 2))× the \
      weight files (\(f(Double(fileBytes) / 1e6)) MB)
      (medians of \(runs) runs)

      """
    )
  }

  struct RunResult {
    var perSessionTokensPerSecond: Double
    var aggregateTokensPerSecond: Double
    var ttftP50: Double
    var itlP50: Double
    var itlP95: Double
    var session0Tokens: [Int]
    var reusedTokens: Int
    /// Draft tokens accepted per step.
    var acceptance: Double
  }

  /// `concurrency` sessions through continuous batching; decode rates count the tokens after the
  /// first of each session.
  func decodeRun(
    generator: TextGenerator,
    run: Int,
    text: [Int]?,
    grounding: Grounding = Grounding()
  ) async throws -> RunResult {
    let cache =
      prefixCache == .on
      ? PrefixCache(
        model: generator.model,
        budgetBytes: prefixCacheMb.map { $0 << 20 } ?? PrefixCache.defaultBudget(for: generator.model)
      ) : nil
    let batcher = BatchedGenerator(
      generator: generator,
      maxBatchSize: concurrency,
      prefixCache: cache,
      promptLookup: promptLookup > 0 ? .init(draftTokens: promptLookup) : nil
    )
    defer { batcher.stop() }
    let parameters = GenerationParameters(
      maxNewTokens: newTokens,
      stopAtEndOfText: false,
      grounding: grounding
    )
    if cache != nil, sharedPrefixTokens > 0 {
      // Another student of the same lesson asked a moment ago.
      let primer = Array(Self.promptIds(session: 0, count: sharedPrefixTokens) + [1, 17, 42])
      for try await _ in batcher.stream(
        promptTokens: primer,
        parameters: GenerationParameters(maxNewTokens: 1)
      ) {}
    }
    let reusedBefore = cache?.statistics.reusedTokens ?? 0
    let start = Date()
    let sessions = try await withThrowingTaskGroup(of: (Int, [Date], [Int], Date).self) { group in
      for s in 0 ..< concurrency {
        let stagger = staggerMs
        group.addTask {
          if stagger > 0 { try await Task.sleep(for: .milliseconds(stagger * s)) }
          let submitted = Date()
          var times: [Date] = []
          var ids: [Int] = []
          for try await event in batcher.stream(
            promptTokens: prompt(session: s, run: run, text: text),
            parameters: parameters
          ) {
            if case .token(let id, _) = event, id >= 0 {
              times.append(Date())
              ids.append(id)
            }
          }
          return (s, times, ids, submitted)
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    let end = Date()
    var ttfts: [Double] = []
    var gaps: [Double] = []
    var perSession: [Double] = []
    var decoded = 0
    var firstToken = end
    for (_, times, _, submitted) in sessions {
      guard let first = times.first, let last = times.last else { continue }
      ttfts.append(first.timeIntervalSince(submitted))
      firstToken = min(firstToken, first)
      for (a, b) in zip(times, times.dropFirst()) { gaps.append(b.timeIntervalSince(a)) }
      if times.count > 1 { perSession.append(Double(times.count - 1) / last.timeIntervalSince(first)) }
      decoded += times.count - 1
    }
    _ = start
    return RunResult(
      perSessionTokensPerSecond: median(perSession),
      aggregateTokensPerSecond: Double(decoded) / end.timeIntervalSince(firstToken),
      ttftP50: percentile(ttfts, 0.5),
      itlP50: percentile(gaps, 0.5),
      itlP95: percentile(gaps, 0.95),
      session0Tokens: sessions.first { $0.0 == 0 }?.2 ?? [],
      reusedTokens: (cache?.statistics.reusedTokens ?? 0) - reusedBefore,
      acceptance: Double(batcher.statistics.accepted) / Double(max(batcher.statistics.steps, 1))
    )
  }

  /// Batch-1 greedy decode steps (one token through the model, the logits of its row, argmax: the
  /// work of a step without the batcher around it), each timed and followed by a timed read of
  /// every weight byte; returns each step's rate over the bound that read gives. The machine's
  /// bandwidth drifts within a second here, so a run-long bound misjudges a run; a read right after
  /// each step compares like with like, and the median over many pairs is the share.
  func pairedDecodeShares(model: GPTNeoModel, steps: Int) throws -> [Double] {
    guard concurrency == 1, steps > 0 else { return [] }
    let prompt = Self.promptIds(session: 0, count: max(promptTokens, 1))
    let cache = model.makeCache(capacity: prompt.count + steps + 1)
    var hidden = try model.forward(tokens: prompt, cache: cache)
    var row = prompt.count - 1
    var shares: [Double] = []
    for _ in 0 ..< steps {
      let start = ContinuousClock.now
      let logits = model.logits(hidden: hidden, row: row)
      let next = logits.firstIndex(of: logits.max() ?? 0) ?? 0
      hidden = try model.forward(tokens: [next], cache: cache)
      row = 0
      let elapsed = (ContinuousClock.now - start).components
      let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
      let bound = model.weightReadBandwidth() / Double(model.weightBytes)
      shares.append(1 / seconds / bound)
    }
    return shares
  }

  /// Bytes of the checkpoint's `*.safetensors` files.
  static func weightFileBytes(_ directory: URL) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".safetensors") }.reduce(0) { total, name in
      let attributes = try? FileManager.default.attributesOfItem(
        atPath: directory.appendingPathComponent(name).path
      )
      return total + ((attributes?[.size] as? Int) ?? 0)
    }
  }

  /// Peak resident set size (VmHWM) of this process.
  static func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
  }
}
