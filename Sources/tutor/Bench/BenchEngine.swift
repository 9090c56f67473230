import ArgumentParser
import Engine
import Foundation
import Synchronization

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
  @Flag(name: .long, help: "Print one JSON object.") var json = false

  static func promptIds(session: Int, count: Int) -> [Int] {
    (0 ..< count).map { (1000 + 7919 * $0 + 104_729 * session) % 50_000 }
  }

  func run() async throws {
    let loadStart = Date()
    let model = try await reportingErrors { try modelOptions.loadModel() }
    let tokenizer = try await reportingErrors { try modelOptions.loadTokenizer() }
    let loadSeconds = Date().timeIntervalSince(loadStart)
    let generator = TextGenerator(model: model, tokenizer: tokenizer)

    var decodeRuns: [RunResult] = []
    var firstTokens: [Int] = []
    for _ in 0 ..< runs {
      let result = try await decodeRun(generator: generator)
      decodeRuns.append(result)
      firstTokens = result.session0Tokens
    }
    // Peak memory of serving the sessions, read before the prefill measure (a server reads long
    // prompts in steps of at most 256 rows, not in one 512-row pass) and the bandwidth probe,
    // whose own 512 MiB buffer would count otherwise.
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
    let fileBytes = Self.weightFileBytes(modelOptions.directory)
    let bandwidth = Self.measureBandwidth(threads: model.threads)
    let bound = bandwidth / Double(model.weightBytes)

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
        "inter_token_ms_p95": itl95 * 1000, "peak_rss_bytes": rss, "bandwidth_bytes_per_second": bandwidth,
        "batch1_decode_bound_tokens_per_second": bound, "greedy_token_ids": firstTokens,
      ])
      return
    }
    func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
    Console.write(
      """
      model \(modelOptions.model): \(model.parameterCount) parameters, \(model.weightFormat.rawValue) weights \
      (\(f(Double(model.weightBytes) / 1e6)) MB), \(model.kvCacheFormat.rawValue) KV cache, \(model.threads) threads, \
      loaded in \(f(loadSeconds, 2)) s
      memory bandwidth \(f(bandwidth / 1e9)) GB/s → batch-1 decode bound \(f(bound)) tokens/s
      prefill \(prefillIds.count) tokens: \(f(median(prefill))) tokens/s
      decode, \(concurrency) session(s) × \(newTokens) tokens after \(promptTokens)-token prompts:
        \(f(perSession)) tokens/s per session, \(f(aggregate)) tokens/s in all
        time to first token p50 \(f(ttft * 1000)) ms, inter-token p50 \(f(itl50 * 1000)) ms, p95 \(f(itl95 * 1000)) ms
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
  }

  /// `concurrency` sessions through continuous batching; decode rates count the tokens after the
  /// first of each session.
  func decodeRun(generator: TextGenerator) async throws -> RunResult {
    let batcher = BatchedGenerator(generator: generator, maxBatchSize: concurrency)
    defer { batcher.stop() }
    let parameters = GenerationParameters(maxNewTokens: newTokens, stopAtEndOfText: false)
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
            promptTokens: Self.promptIds(session: s, count: promptTokens),
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
      session0Tokens: sessions.first { $0.0 == 0 }?.2 ?? []
    )
  }

  /// Streaming read bandwidth with `threads` threads over 512 MiB (larger than any cache), best of 3.
  static func measureBandwidth(threads: Int) -> Double {
    let count = 512 << 20 / 4
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { buffer.deallocate() }
    buffer.initialize(repeating: 1, count: count)
    var best = 0.0
    for _ in 0 ..< 3 {
      let t0 = Date()
      let chunk = count / threads
      let sums = Mutex([Float](repeating: 0, count: threads))
      let base = UInt(bitPattern: buffer)
      DispatchQueue.concurrentPerform(iterations: threads) { t in
        let p = UnsafePointer<Float>(bitPattern: base)! + t * chunk
        let total = streamSum(p, chunk)
        sums.withLock { $0[t] = total }
      }
      best = max(best, Double(count * 4) / Date().timeIntervalSince(t0))
    }
    return best
  }

  /// Sum of `count` floats in four independent vector chains, so that the loads, not the adds,
  /// set the pace (the bandwidth probe; the engine's kernels have no use for it).
  static func streamSum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var a = SIMD16<Float>()
    var b = SIMD16<Float>()
    var c = SIMD16<Float>()
    var d = SIMD16<Float>()
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 64 <= count {
      a += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
      b += raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
      c += raw.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self)
      d += raw.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self)
      i += 64
    }
    var total = (a + b + c + d).sum()
    while i < count {
      total += x[i]
      i += 1
    }
    return total
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
