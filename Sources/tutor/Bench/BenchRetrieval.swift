import ArgumentParser
import Curriculum
import Engine
import Foundation
import Synchronization
import TutorBench
import Tutoring

/// `tutor bench retrieval`: index build and query latency on a generated corpus of many lessons,
/// with files for the side-by-side peer (`tools/bench/retrieval_peer.py`).
struct BenchRetrieval: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "retrieval",
    abstract:
      "Benchmark snippet retrieval on a generated corpus (default 10,000 lessons, ~100,000 snippets).",
    discussion: """
      With an encoder, the hybrid figures too. The corpus's embeddings are cached only with \
      --embedding-cache DIR (by default they are made anew, to time them).
      """
  )

  @Option(help: "Lessons to generate (100 per curriculum).")
  var lessons = 10_000

  @Option(help: "Sections per lesson.")
  var sections = 10

  @Option(help: "Queries to time.")
  var queries = 300

  @Option(
    help: ArgumentHelp("Folder for the corpus, the index and the peer's input files.", valueName: "dir")
  )
  var out = "/tmp/tutor-bench-retrieval"

  @Option(help: "Seed of the generated corpus and queries.")
  var seed: UInt64 = 1

  /// --encoder / --no-encoder as everywhere; here --embedding-cache defaults to none, so that the
  /// corpus's embedding is timed.
  @OptionGroup var retrieval: RetrievalOptions

  @Option(help: "Encoder threads (the server's default is every core).")
  var threads: Int?

  @Option(
    help: """
      Snippets of the generated corpus embedded for real, to time embedding; the others get copies \
      of their vectors (search latency depends on the number of vectors, not their values). 0: \
      embed all (about an hour for 100,000 on 2 cores).
      """
  )
  var embedSample = 2000

  func run() async throws {
    let fm = FileManager.default
    try? fm.removeItem(atPath: out)
    try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
    let root = (out as NSString).appendingPathComponent("curricula")
    var rng = SplitMix(seed: seed)
    let vocabulary = Self.vocabulary(rng: &rng)
    let zipf = Zipf(count: vocabulary.count, exponent: 1.0)
    func words(_ n: Int) -> String {
      (0 ..< n).map { _ in vocabulary[zipf.sample(&rng)] }.joined(separator: " ")
    }

    // 1. Generate the curricula as files, exactly as teachers would write them.
    let clock = ContinuousClock()
    var t = clock.now
    var corpus: [(id: String, text: String)] = []
    let perCurriculum = 100
    for c in 0 ..< ((lessons + perCurriculum - 1) / perCurriculum) {
      let cid = "bench-\(c)"
      let count = min(perCurriculum, lessons - c * perCurriculum)
      let ids = (0 ..< count).map { "lesson-\($0)" }
      try fm.createDirectory(atPath: "\(root)/\(cid)/lessons", withIntermediateDirectories: true)
      try "id: \(cid)\ntitle: \(words(4))\nlessons: [\(ids.joined(separator: ", "))]\n".write(
        toFile: "\(root)/\(cid)/curriculum.yaml",
        atomically: false,
        encoding: .utf8
      )
      for (l, lid) in ids.enumerated() {
        var text =
          "---\nid: \(lid)\ntitle: \(words(5))\nkey_terms: [\(words(3).replacingOccurrences(of: " ", with: ", "))]\n"
        if l > 0 { text += "prerequisites: [lesson-\(l - 1)]\n" }
        text += "---\n"
        for s in 0 ..< sections {
          let heading = "\(words(4)) \(s)"
          let body = words(25 + Int(rng.next() % 20)) + ".\n\n" + words(10 + Int(rng.next() % 15)) + "."
          text += "\n## \(heading)\n\n\(body)\n"
          corpus.append(("\(cid)/\(lid)#\(heading.replacingOccurrences(of: " ", with: "-"))", body))
        }
        try text.write(toFile: "\(root)/\(cid)/lessons/\(lid).md", atomically: false, encoding: .utf8)
      }
    }
    let generateSeconds = (clock.now - t) / .seconds(1)

    // 2. Load and validate, then build the index (in its own SQLite file, as the server does).
    t = clock.now
    let library = CurriculumLibrary.load(root: root)
    let loadSeconds = (clock.now - t) / .seconds(1)
    guard !library.hasErrors else {
      throw ValidationError("generated corpus has errors: \(library.diagnostics.prefix(3))")
    }
    let snippets = library.curricula.reduce(0) { $0 + $1.snippets.count }
    t = clock.now
    let index = SnippetIndex(library: library)
    let buildSeconds = (clock.now - t) / .seconds(1)
    // The FTS5 reference, in its own SQLite file as a server would keep it.
    let indexPath = (out as NSString).appendingPathComponent("snippets.sqlite")
    t = clock.now
    let fts5 = try FTS5SnippetIndex(library: library, path: indexPath)
    let fts5BuildSeconds = (clock.now - t) / .seconds(1)
    var plainWeights = SnippetIndex.Weights()
    plainWeights.title = 0
    plainWeights.keyTerms = 0
    let plainIndex = SnippetIndex(library: library, weights: plainWeights)

    // 3. Queries: a few content words of a random snippet plus one content word from anywhere.
    // The 200 most frequent generated words play the part of stop words (in real text "the",
    // "of", ... hold those ranks and the analyzer drops them), so queries skip them as students'
    // questions do after stop-word removal.
    let rank = Dictionary(vocabulary.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    func content(_ w: Substring) -> Bool { (rank[String(w)] ?? 0) >= 200 }
    var texts: [String] = []
    while texts.count < queries {
      let source = corpus[Int(rng.next() % UInt64(corpus.count))].text
        .replacingOccurrences(of: ".", with: "").split(whereSeparator: \.isWhitespace).filter(content)
      guard !source.isEmpty else { continue }
      var picked = (0 ..< (2 + Int(rng.next() % 4))).map { _ in
        String(source[Int(rng.next() % UInt64(source.count))])
      }
      var extra = vocabulary[zipf.sample(&rng)]
      while (rank[extra] ?? 0) < 200 { extra = vocabulary[zipf.sample(&rng)] }
      picked.append(extra)
      texts.append(picked.joined(separator: " "))
    }
    func time(_ body: (String) throws -> Void) rethrows -> [Double] {
      try texts.map { q in
        let start = clock.now
        try body(q)
        return (clock.now - start) / .milliseconds(1)
      }
    }
    let full = time { _ = index.search($0, limit: 10) }
    let filtered = time { _ = index.search($0, curriculum: "bench-0", lesson: "lesson-5", limit: 10) }
    var plainRankings: [[String]] = []
    let plain = time { plainRankings.append(plainIndex.search($0, limit: 10, expandQuery: false).map(\.id)) }
    _ = try fts5.search(texts[0], limit: 10)  // warm the page cache
    let fts5Full = try time { _ = try fts5.search($0, limit: 10) }
    let fts5Filtered = try time {
      _ = try fts5.search($0, curriculum: "bench-0", lesson: "lesson-5", limit: 10)
    }
    // Do the two engines agree? Top-10 overlap of the production rankings.
    var agreement: [Double] = []
    for q in texts {
      let a = index.search(q, limit: 10).map(\.id)
      let b = try fts5.search(q, limit: 10).map(\.id)
      if !a.isEmpty || !b.isEmpty {
        agreement.append(Double(Set(a).intersection(b).count) / Double(max(a.count, b.count)))
      }
    }
    let overlap = agreement.reduce(0, +) / Double(max(agreement.count, 1))

    // 5. Hybrid search: the encoder on the shipped curricula, then on the whole generated corpus.
    var hybridLines = ""
    var hybridSummary: [String: Any] = [:]
    if let encoderDirectory = try retrieval.encoderDirectory {
      t = clock.now
      let model = try await reportingErrors {
        try SnippetEncoder.load(directory: encoderDirectory, threads: threads, cachedQuestions: 0)
      }
      let encoderLoadSeconds = (clock.now - t) / .seconds(1)
      let shipped = try Self.shippedFigures(encoder: model)
      t = clock.now
      let sampled = SampledEmbedder(encoder: model, sample: embedSample)
      let hybrid = try SnippetIndex(
        library: library,
        embedder: embedSample > 0 ? sampled : model,
        cacheFolder: retrieval.embeddingCache
      )
      let hybridBuildSeconds = (clock.now - t) / .seconds(1)
      let report = hybrid.embeddingReport!
      // Snippets embedded for real, and how long that took.
      let (realCount, realSeconds) =
        embedSample > 0 && report.embedded > embedSample
        ? sampled.timing.withLock { $0 } : (report.embedded, hybridBuildSeconds)
      _ = hybrid.search(texts[0], limit: 10)
      let hybridFull = time { _ = hybrid.search($0, limit: 10) }
      let hybridFiltered = time {
        _ = hybrid.search($0, curriculum: "bench-0", lesson: "lesson-5", limit: 10)
      }
      let embedOnly = time { _ = try? model.embed([$0]) }
      let float32Bytes = snippets * model.dimension * 4
      hybridSummary = [
        "encoder_load_seconds": encoderLoadSeconds, "corpus_embedded": report.embedded,
        "corpus_embeddings_from_cache": report.reused, "hybrid_index_build_seconds": hybridBuildSeconds,
        "embedding_bytes_int8": hybrid.embeddingBytes, "embedding_bytes_float32": float32Bytes,
        "hybrid_query_ms_median": median(hybridFull), "hybrid_query_ms_p90": percentile(hybridFull, 0.9),
        "hybrid_query_filtered_ms_median": median(hybridFiltered),
        "query_embedding_ms_median": median(embedOnly),
        "shipped": shipped.json,
      ]
      hybridLines = String(
        format: """

          hybrid (BM25 + %@, %d threads):
          encoder load (s)                                         %8.2f
          corpus: %d snippets to embed, %d of them for real in %.1f s (%.1f snippets/s: %.0f s for all), %d from the cache
          embeddings in memory: %.1f MB as int8 (%.1f MB as float32)
          query embedding alone, median (ms)                       %8.2f
          hybrid query, all curricula, median (ms)                 %8.2f
          hybrid query, all curricula, p90 (ms)                    %8.2f
          hybrid query, one curriculum + lesson, median (ms)       %8.2f
          %@
          """,
        encoderDirectory,
        model.encoder.model.threads,
        encoderLoadSeconds,
        report.embedded,
        realCount,
        realSeconds,
        Double(realCount) / max(realSeconds, 1e-9),
        Double(report.embedded) * realSeconds / Double(max(realCount, 1)),
        report.reused,
        Double(hybrid.embeddingBytes) / 1e6,
        Double(float32Bytes) / 1e6,
        median(embedOnly),
        median(hybridFull),
        percentile(hybridFull, 0.9),
        median(hybridFiltered),
        shipped.text
      )
    }

    // 4. Files for the peer, which reads the same corpus and queries.
    let corpusLines = library.curricula.flatMap(\.snippets).map { s in
      String(
        decoding: try! JSONSerialization.data(withJSONObject: ["id": s.id, "text": s.text]),
        as: UTF8.self
      )
    }
    try corpusLines.joined(separator: "\n").write(
      toFile: (out as NSString).appendingPathComponent("corpus.jsonl"),
      atomically: false,
      encoding: .utf8
    )
    let queryLines = zip(texts, plainRankings).map { q, r in
      String(
        decoding: try! JSONSerialization.data(withJSONObject: [
          "query": q, "terms": SnippetIndex.queryTerms(q), "ours": r,
        ]),
        as: UTF8.self
      )
    }
    try queryLines.joined(separator: "\n").write(
      toFile: (out as NSString).appendingPathComponent("queries.jsonl"),
      atomically: false,
      encoding: .utf8
    )
    let summary: [String: Any] = [
      "lessons": lessons, "snippets": snippets, "generate_seconds": generateSeconds,
      "load_seconds": loadSeconds,
      "index_build_seconds": buildSeconds, "query_ms_median": median(full),
      "query_ms_p90": percentile(full, 0.9),
      "query_filtered_ms_median": median(filtered), "query_plain_ms_median": median(plain),
      "queries": queries,
    ].merging(hybridSummary) { a, _ in a }
    let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
    try data.write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("ours.json")))
    Console.write(
      String(
        format: """
          corpus: %d lessons, %d snippets (generated in %.1f s, loaded and validated in %.1f s)
                                                 in-memory BM25    SQLite FTS5
          index build (s)                              %8.2f       %8.2f
          query, all curricula, median (ms)            %8.2f       %8.2f
          query, all curricula, p90 (ms)               %8.2f       %8.2f
          query, one curriculum + lesson (ms)          %8.2f       %8.2f
          query, plain BM25 body only (ms)             %8.2f
          top-10 agreement of the two engines: %.3f
          peer input: %@
          %@
          """,
        lessons,
        snippets,
        generateSeconds,
        loadSeconds,
        buildSeconds,
        fts5BuildSeconds,
        median(full),
        median(fts5Full),
        percentile(full, 0.9),
        percentile(fts5Full, 0.9),
        median(filtered),
        median(fts5Filtered),
        median(plain),
        overlap,
        out,
        hybridLines
      )
    )
  }

  /// The encoder on the shipped curricula: embedding them, the latency of a short question, and
  /// recall@3 of int8 against float32 vectors on the labelled sets.
  static func shippedFigures(encoder: SnippetEncoder) throws -> (text: String, json: [String: Any]) {
    let library = CurriculumLibrary.load(root: "curricula")
    guard !library.curricula.isEmpty else {
      return ("(no ./curricula: shipped-curricula figures skipped)", [:])
    }
    let clock = ContinuousClock()
    var t = clock.now
    let index = try SnippetIndex(library: library, embedder: encoder, cacheFolder: nil)
    let embedSeconds = (clock.now - t) / .seconds(1)
    let exact = try SnippetIndex(library: library, embedder: encoder, cacheFolder: nil, precision: .float32)
    let sets = CurriculumCommand.Evaluate.labelledSets.filter { FileManager.default.fileExists(atPath: $0) }
    var questions: [RetrievalEvaluation.Question] = []
    var recall: [String] = []
    for file in sets {
      let q = try RetrievalEvaluation.loadQuestions(path: file)
      questions += q
      let a = RetrievalEvaluation.evaluate(q, index: index).recallAt3
      let b = RetrievalEvaluation.evaluate(q, index: exact).recallAt3
      recall.append(String(format: "%@ %.3f (float32 %.3f)", (file as NSString).lastPathComponent, a, b))
    }
    var latencies: [Double] = []
    for _ in 0 ..< 3 {
      for q in questions {
        t = clock.now
        _ = index.search(q.question, curriculum: q.curriculum, limit: 3)
        latencies.append((clock.now - t) / .milliseconds(1))
      }
    }
    let text = String(
      format: """
        shipped curricula: %d snippets and %d student questions embedded in %.2f s; a student's question (%d, 3 passes), median %.2f ms, p90 %.2f ms
        recall@3 with int8 vectors: %@
        """,
      index.snippetCount,
      index.studentQuestionCount,
      embedSeconds,
      questions.count,
      median(latencies),
      percentile(latencies, 0.9),
      recall.joined(separator: "; ")
    )
    return (
      text,
      [
        "snippets": index.snippetCount, "student_questions": index.studentQuestionCount,
        "embed_seconds": embedSeconds, "query_ms_median": median(latencies),
        "query_ms_p90": percentile(latencies, 0.9), "recall": recall,
      ]
    )
  }

  /// Words of the shipped curricula (when present) plus pronounceable made-up words, ~30,000 in all.
  static func vocabulary(rng: inout SplitMix) -> [String] {
    var words = Set<String>()
    let shipped = CurriculumLibrary.load(root: "curricula")
    for c in shipped.curricula {
      for s in c.snippets {
        for w in s.text.lowercased().split(whereSeparator: { !$0.isLetter }) { words.insert(String(w)) }
      }
    }
    let onsets = [
      "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "st", "tr", "pl", "br", "ch",
    ]
    let vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
    let codas = ["", "n", "r", "s", "t", "l", "m", "ng", "ck", "st"]
    let suffixes = ["", "", "", "s", "ed", "ing", "ion", "al", "ly", "ness", "ment", "ity"]
    while words.count < 30_000 {
      var w = ""
      for _ in 0 ..< (1 + Int(rng.next() % 3)) {
        w +=
          onsets[Int(rng.next() % UInt64(onsets.count))] + vowels[Int(rng.next() % UInt64(vowels.count))]
          + codas[Int(rng.next() % UInt64(codas.count))]
      }
      words.insert(w + suffixes[Int(rng.next() % UInt64(suffixes.count))])
    }
    var list = words.sorted()
    for i in stride(from: list.count - 1, to: 0, by: -1) { list.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    return list
  }
}
