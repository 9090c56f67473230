import Foundation
import Testing
import TutorTestSupport

/// `tutor eval answers`: the server's Ask path on labelled questions, scored.
@Suite struct EvalAnswersCLITests {
  @Test func evalAnswersScoresEverySettingAndTheBaseline() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let questions = folder.appendingPathComponent("q.yaml").path
    try """
    - curriculum: photosynthesis
      question: why r leaves green
      relevant: [photosynthesis/plant-cells#chloroplasts-and-chlorophyll]
    - curriculum: python-intro
      question: how do i make words show up on the screen
      relevant: [python-intro/running-python#showing-output-with-print]
    """.write(toFile: questions, atomically: true, encoding: .utf8)
    let out = folder.appendingPathComponent("answers.jsonl").path
    let result = try TutorCLI.run([
      "eval", "answers", "--curricula", CurriculumCLITests.curricula, "--no-encoder", "--max-new-tokens",
      "40",
      "--grounding", "off", "--grounding", "copy:copy=30,sentences=1", "--out", out, "--json", questions,
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let summary = try CLITests.json(result.stdout)
    #expect(summary["questions"] as? Int == 2)
    let rows = try #require(summary["rows"] as? [[String: Any]])
    #expect(
      rows.map { "\($0["model"]!)/\($0["setting"]!)" } == [
        "tutor/off", "extractive/top note, 2 sentences", "tutor/copy",
      ]
    )
    for row in rows {
      #expect(row["answers"] as? Int == 2)
      for key in ["useful", "grounded", "english", "distinct_trigrams"] {
        let value = try #require(row[key] as? Double, "\(key)")
        #expect(value >= 0 && value <= 1, "\(key)")
      }
      #expect((row["words"] as? Double ?? 0) > 0)
    }
    // Every answer with its scores, one JSON object per line.
    let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 6)
    let first = try CLITests.json(String(lines[0]))
    #expect(first["question"] as? String == "why r leaves green")
    #expect((first["cited"] as? [String])?.isEmpty == false)
    let quality = try #require(first["quality"] as? [String: Any])
    #expect(Set(quality.keys) == ["words", "english", "distinct_trigrams", "grounded"])
    // One sentence copied with a strong bias ends with a full stop.
    let copied = try lines.map { try CLITests.json(String($0)) }.filter { $0["setting"] as? String == "copy" }
    #expect(copied.count == 2)
    #expect(copied.allSatisfy { ($0["answer"] as? String)?.hasSuffix(".") == true }, "\(copied)")

    let bad = try TutorCLI.run(["eval", "answers", "--grounding", "x:copy=high", questions])
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("copy must be a number"))
  }
}
