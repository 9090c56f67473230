import ArgumentParser
import Curriculum
import Foundation

struct CurriculumCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "curriculum",
    abstract: "Check and search curricula (curricula/<id>/curriculum.yaml + lessons/*.md).",
    subcommands: [Lint.self, Search.self, Evaluate.self, ListCurricula.self, TrainingData.self]
  )

  struct Lint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Validate curricula and report every problem as file:line:column: error|warning: message.",
      discussion: "Exits with status 1 when any error is found (warnings alone exit 0)."
    )

    @Argument(help: "Course folders, folders of curricula, or files inside a curriculum.")
    var paths: [String] = ["curricula"]

    @Flag(name: .long, help: "Print a JSON list of {file, line, column, severity, message}.")
    var json = false

    func run() async throws {
      let library = CurriculumLibrary.load(paths: paths)
      if json {
        let objects = library.diagnostics.map {
          [
            "file": $0.file, "line": $0.line, "column": $0.column, "severity": $0.severity.rawValue,
            "message": $0.message,
          ]
            as [String: Any]
        }
        let data = try JSONSerialization.data(
          withJSONObject: objects,
          options: [.sortedKeys, .withoutEscapingSlashes]
        )
        FileHandle.standardOutput.write(data + Data("\n".utf8))
      } else {
        for d in library.diagnostics { Console.write("\(d)\n") }
        let errors = library.diagnostics.filter { $0.severity == .error }.count
        let warnings = library.diagnostics.count - errors
        let lessons = library.curricula.reduce(0) { $0 + $1.lessons.count }
        let snippets = library.curricula.reduce(0) { $0 + $1.snippets.count }
        Console.error(
          "\(library.curricula.count) curricula valid (\(lessons) lessons, \(snippets) snippets), "
            + "\(library.skipped.count) with errors; \(errors) error(s), \(warnings) warning(s)"
        )
      }
      if library.hasErrors { throw ExitCode.failure }
    }
  }

  struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Rank lesson snippets for a question: BM25 fused with the sentence encoder's similarities (BM25 alone without one).",
      discussion: "--explain shows each hit's BM25 rank, embedding rank, cosine similarity and fused score."
    )

    @OptionGroup var retrieval: RetrievalOptions

    @Option(name: .long, help: ArgumentHelp("Folder of curricula.", valueName: "dir"))
    var curricula = "curricula"

    @Option(name: .long, help: "The question or search text.")
    var query: String

    @Option(name: .long, help: "Only this curriculum.")
    var curriculum: String?

    @Option(name: .long, help: "Favour this lesson and its prerequisites (needs --curriculum).")
    var lesson: String?

    @Option(name: .customShort("k"), help: "Number of results.")
    var k = 5

    @Flag(name: .long, help: "Print a JSON list of {id, score, text} (with --explain, the ranks too).")
    var json = false

    @Flag(name: .long, help: "Show how each retriever ranked each hit.")
    var explain = false

    func validate() throws {
      if lesson != nil, curriculum == nil { throw ValidationError("--lesson needs --curriculum") }
      if k < 1 { throw ValidationError("-k must be at least 1, got \(k)") }
    }

    func run() async throws {
      let library = CurriculumLibrary.load(root: curricula)
      for d in library.diagnostics where d.severity == .error { Console.error("\(d)") }
      if let curriculum, library.curriculum(curriculum) == nil {
        Console.error("error: no valid curriculum '\(curriculum)' in \(curricula)")
        throw ExitCode.failure
      }
      if let curriculum, let lesson, library.curriculum(curriculum)?.lesson(lesson) == nil {
        Console.error("error: curriculum '\(curriculum)' has no lesson '\(lesson)'")
        throw ExitCode.failure
      }
      let snippetIndex = try await retrieval.index(library)
      let hits = snippetIndex.search(query, curriculum: curriculum, lesson: lesson, limit: k)
      if json {
        let objects = hits.map { hit in
          var object: [String: Any] = ["id": hit.id, "score": hit.score, "text": hit.text]
          if explain, let e = hit.explanation {
            object["bm25_rank"] = e.bm25Rank ?? NSNull()
            object["bm25_score"] = e.bm25Score ?? NSNull()
            object["dense_rank"] = e.denseRank ?? NSNull()
            object["similarity"] = e.similarity ?? NSNull()
            object["student_question"] = e.studentQuestion ?? NSNull()
            object["student_question_similarity"] = e.studentQuestionSimilarity ?? NSNull()
          }
          return object
        }
        let data = try JSONSerialization.data(
          withJSONObject: objects,
          options: [.sortedKeys, .withoutEscapingSlashes]
        )
        FileHandle.standardOutput.write(data + Data("\n".utf8))
      } else {
        if explain {
          Console.write(
            snippetIndex.isHybrid
              ? "fused score = Σ 1/(\(Int(snippetIndex.weights.fusionK)) + rank) over the BM25 and embedding rankings\n\n"
              : "BM25 alone (no sentence encoder): score = BM25 with the lesson boosts\n\n"
          )
        }
        for hit in hits {
          Console.write(String(format: "%.4f  %@\n", hit.score, hit.id))
          if explain, let e = hit.explanation {
            Console.write(
              "    BM25 rank \(e.bm25Rank.map(String.init) ?? "-")"
                + (e.bm25Score.map { String(format: " (score %.3f)", $0) } ?? "")
                + ", embedding rank \(e.denseRank.map(String.init) ?? "-")"
                + (e.similarity.map { String(format: " (cosine %.3f)", $0) } ?? "") + "\n"
            )
            if let question = e.studentQuestion, let cosine = e.studentQuestionSimilarity {
              Console.write(
                String(format: "    closest student question (cosine %.3f): ", cosine) + question + "\n"
              )
            }
          }
          Console.write(hit.text.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n\n")
        }
      }
    }
  }

  struct Evaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "eval",
      abstract: "Measure retrieval on labelled questions: recall@3, hit@3 and MRR.",
      discussion: "QUESTIONS is a YAML list of {curriculum, question, relevant: [snippet ids]}."
    )

    @OptionGroup var retrieval: RetrievalOptions

    @Option(name: .long, help: ArgumentHelp("Folder of curricula.", valueName: "dir"))
    var curricula = "curricula"

    @Option(name: .long, help: "Hybrid search: k of reciprocal-rank fusion (tune on your own labelled set).")
    var fusionK = SnippetIndex.Weights().fusionK

    @Option(name: .long, help: "Hybrid search: weight of the BM25 ranking in the fusion.")
    var bm25Weight = SnippetIndex.Weights().bm25Weight

    @Option(name: .long, help: "Hybrid search: weight of the embedding ranking in the fusion.")
    var denseWeight = SnippetIndex.Weights().denseWeight

    @Option(name: .long, help: "Hybrid search: how many of each ranking take part in the fusion.")
    var fusionDepth = SnippetIndex.Weights().fusionDepth

    @Option(
      name: .long,
      help: "Hybrid search: the least cosine a snippet needs to be an embedding candidate."
    )
    var minimumSimilarity = SnippetIndex.Weights().minimumSimilarity

    @Option(
      name: .long,
      help: "Hybrid search: the least similarity a snippet only BM25 found needs to stay a hit."
    )
    var bm25OnlyMinimumSimilarity = SnippetIndex.Weights().bm25OnlyMinimumSimilarity

    @Option(name: .long, help: "BM25: weight of a hit in a section's student questions.")
    var studentQuestionsWeight = SnippetIndex.Weights().studentQuestions

    @Flag(name: .long, help: "Leave the lessons' student_questions out of retrieval (to measure them).")
    var noStudentQuestions = false

    /// The project's labelled sets: two for tuning, then the held-out ones in the order written.
    static let labelledSets = [
      "retrieval-questions.yaml", "retrieval-questions-tuning.yaml", "retrieval-questions-heldout.yaml",
      "retrieval-questions-students.yaml", "retrieval-questions-students-2.yaml",
      "retrieval-questions-students-3.yaml",
    ].map { "Tests/CurriculumTests/Fixtures/" + $0 }

    @Argument(help: "Labelled question files.")
    var questions: [String] = labelledSets

    func run() async throws {
      let library = CurriculumLibrary.load(root: curricula)
      var weights = SnippetIndex.Weights()
      weights.fusionK = fusionK
      weights.bm25Weight = bm25Weight
      weights.denseWeight = denseWeight
      weights.fusionDepth = fusionDepth
      weights.minimumSimilarity = minimumSimilarity
      weights.bm25OnlyMinimumSimilarity = bm25OnlyMinimumSimilarity
      weights.studentQuestions = studentQuestionsWeight
      weights.useStudentQuestions = !noStudentQuestions
      let index = try await retrieval.index(library, weights: weights)
      Console.write(index.isHybrid ? "hybrid: BM25 fused with the sentence encoder\n" : "BM25 alone\n")
      for file in questions {
        let result = RetrievalEvaluation.evaluate(
          try RetrievalEvaluation.loadQuestions(path: file),
          index: index
        )
        Console.write("\(file): \(result.summary)\n")
        for miss in result.misses { Console.write("  missed \(miss)\n") }
      }
    }
  }
}
