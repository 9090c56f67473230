import Foundation
import Testing
import TutorTestSupport

/// `tutor curriculum lint` and `tutor curriculum search` as other tools call them.
@Suite struct CurriculumCLITests {
  static let curricula = CLITests.repository.appendingPathComponent("curricula").path

  @Test func lintOfTheShippedCurriculaIsClean() throws {
    let result = try TutorCLI.run(["curriculum", "lint", Self.curricula])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains("3 curricula valid"))
  }

  @Test func lintReportsEveryProblemAndFailsOnErrors() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("lint-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let lessons = root.appendingPathComponent("c/lessons")
    try FileManager.default.createDirectory(at: lessons, withIntermediateDirectories: true)
    try "id: c\ntitle: C\nlessons: [a, b]\n".write(
      to: root.appendingPathComponent("c/curriculum.yaml"),
      atomically: true,
      encoding: .utf8
    )
    try "---\nid: a\ntitle: A\nexercises:\n  - id: e\n    prompt: P\n    answer: {regex: \"(\"}\n---\nText.\n"
      .write(
        to: lessons.appendingPathComponent("a.md"),
        atomically: true,
        encoding: .utf8
      )
    let result = try TutorCLI.run(["curriculum", "lint", root.path])
    #expect(result.status == 1)
    let lines = result.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == 2, "\(result.stdout)")
    let a = lessons.appendingPathComponent("a.md").path
    #expect(
      lines.contains { $0.hasPrefix("\(a):7:") && $0.contains(": error: invalid regular expression '('") }
    )
    #expect(
      lines.contains {
        $0.hasPrefix("\(root.path)/c/curriculum.yaml:3:") && $0.contains("lesson 'b' is listed but")
      }
    )

    let json = try TutorCLI.run(["curriculum", "lint", "--json", root.path])
    #expect(json.status == 1)
    let objects = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
    )
    #expect(objects.count == 2)
    #expect(
      objects.allSatisfy {
        $0["file"] is String && $0["line"] is Int && $0["column"] is Int
          && $0["severity"] as? String == "error" && $0["message"] is String
      }
    )
  }

  @Test func searchPrintsRankedSnippets() throws {
    let result = try TutorCLI.run([
      "curriculum", "search", "--curricula", Self.curricula, "--query", "why are leaves green",
      "--curriculum",
      "photosynthesis", "-k", "3", "--json",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let hits = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
    )
    #expect(hits.count == 3)
    #expect(hits.first?["id"] as? String == "photosynthesis/plant-cells#chloroplasts-and-chlorophyll")
    let scores = hits.compactMap { $0["score"] as? Double }
    #expect(scores == scores.sorted(by: >))
    #expect(hits.allSatisfy { ($0["text"] as? String)?.isEmpty == false })

    let unknown = try TutorCLI.run([
      "curriculum", "search", "--curricula", Self.curricula, "--query", "x", "--curriculum", "nope",
    ])
    #expect(unknown.status == 1)
    #expect(unknown.stderr.contains("no valid curriculum 'nope'"))
  }

  /// With the encoder the test command fetches, search fuses BM25 with embeddings, and --explain
  /// shows both rankings; --no-encoder is BM25 alone.
  @Test func searchExplainsBothRankings() throws {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: cache) }
    let result = try TutorCLI.run([
      "curriculum", "search", "--curricula", Self.curricula, "--curriculum", "fractions-ratios", "--query",
      "my teacher said I have to cancel it down", "-k", "3", "--explain", "--json", "--embedding-cache",
      cache.path,
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let hits = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
    )
    // Among the three (first by embedding: "cancelling" before multiplying ranks near it).
    let simplifying = try #require(
      hits.first { $0["id"] as? String == "fractions-ratios/equivalent-fractions#simplifying-fractions" },
      "\(hits)"
    )
    #expect(simplifying["dense_rank"] as? Int == 1, "\(hits)")
    for hit in hits {
      #expect(hit["dense_rank"] is Int || hit["bm25_rank"] is Int, "\(hit)")
      #expect(hit["similarity"] is Double, "\(hit)")
      // The shipped lessons list student questions for every section: the closest is shown.
      #expect(hit["student_question"] is String && hit["student_question_similarity"] is Double, "\(hit)")
    }
    // The snippets' vectors were cached for the next run.
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: cache.path).contains { $0.hasSuffix(".embeddings") }
    )

    let text = try TutorCLI.run([
      "curriculum", "search", "--curricula", Self.curricula, "--query", "why are leaves green", "--explain",
      "--embedding-cache", cache.path,
    ])
    #expect(text.stdout.contains("BM25 rank") && text.stdout.contains("embedding rank"), "\(text.stdout)")
    #expect(text.stdout.contains("closest student question"), "\(text.stdout)")

    let plain = try TutorCLI.run([
      "curriculum", "search", "--curricula", Self.curricula, "--query", "why are leaves green", "--explain",
      "--no-encoder",
    ])
    #expect(plain.status == 0)
    #expect(plain.stdout.contains("BM25 alone"), "\(plain.stdout)")

    let missing = try TutorCLI.run([
      "curriculum", "search", "--curricula", Self.curricula, "--query", "x", "--encoder", "/nonexistent",
    ])
    #expect(missing.status != 0)
    #expect(missing.stderr.contains("/nonexistent: no sentence encoder here"), "\(missing.stderr)")
  }
}
