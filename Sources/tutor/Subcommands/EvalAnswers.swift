import ArgumentParser
import Curriculum
import Engine
import Foundation
import TutorStore
import Tutoring

/// `tutor eval`: measure what the tutor tells students.
struct Eval: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Measure answer quality.",
    subcommands: [Answers.self]
  )

  struct Answers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "answers",
      abstract: "Ask labelled questions through the server's own Ask path and score every answer.",
      discussion: """
        QUESTIONS is a YAML list of {curriculum, question, relevant: [snippet ids]} (the format of \
        `tutor curriculum eval`). Each question is asked in a fresh session, in process, with the \
        server's retrieval, prompt, decoding and defaults, once per --model and --grounding \
        setting; a baseline row answers with the first two sentences of the top-ranked note.

        Scores: grounded (share of the answer's content words found in the relevant notes), \
        english (share of words in /usr/share/dict/words, Debian's wamerican), distinct \
        3-grams, words. Useful: english ≥ 0.9, distinct 3-grams ≥ 0.9, grounded ≥ 0.5, ≥ 8 \
        words. tools/eval/fluency.py adds perplexity under SmolLM2-135M-Instruct to --out and \
        the "useful and fluent" column (perplexity ≤ 60).

        --grounding takes `off`, `default` (the curriculum's, then the server's settings) or \
        NAME:copy=X,contrast=X,ngram=N,sentence=0|1,sentences=N (unset parts take the defaults).
        """
    )

    @Option(
      name: .long,
      help: ArgumentHelp(
        "GPT-Neo checkpoint (repeat for several; default: the bundled model).",
        valueName: "dir"
      )
    )
    var model: [String] = []

    @Option(name: .long, help: ArgumentHelp("Folder of curricula.", valueName: "dir"))
    var curricula = "curricula"

    @Option(
      name: .long,
      help: ArgumentHelp("Decoding setting to compare (repeat for several).", valueName: "setting")
    )
    var grounding: [String] = []

    @Option(name: .long, help: "Notes retrieved per question (the server's default: 4).")
    var snippets = TutoringService.Limits().snippetsPerPrompt

    @Option(name: .long, help: ArgumentHelp("Prompt template for curricula without one.", valueName: "file"))
    var template: String?

    @Flag(name: .long, help: "Put the notes in the prompt worst first, the best beside the question.")
    var notesBestLast = false

    @Option(name: .long, help: "Sampling seed for curricula that sample (same seed, same answers).")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Answer length in tokens (default: the curriculum's, then the server's).")
    var maxNewTokens: Int?

    @Option(name: .long, help: "Compute threads (default: every core).")
    var threads: Int?

    @Option(
      name: .long,
      help: ArgumentHelp("Write every answer and its scores as JSON Lines.", valueName: "file")
    )
    var out: String?

    @Flag(name: .long, help: "Print the summary as JSON instead of a table.")
    var json = false

    @OptionGroup var retrieval: RetrievalOptions

    @Argument(help: "Labelled question files.")
    var questions: [String]

    struct Setting {
      var name: String
      var options: TutoringService.GenerationOptions
    }

    static func parseSetting(_ text: String) throws -> Setting {
      switch text {
      case "default": return Setting(name: "default", options: .init())
      case "off":
        return Setting(
          name: "off",
          options: .init(
            copyBias: 0,
            contrastStrength: 0,
            noRepeatNGramSize: 0,
            endAtSentence: false,
            maxSentences: 0
          )
        )
      default: break
      }
      guard let colon = text.firstIndex(of: ":") else {
        throw ValidationError("--grounding \(text): expected off, default or NAME:key=value,…")
      }
      var setting = Setting(name: String(text[..<colon]), options: .init())
      for pair in text[text.index(after: colon)...].split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
          throw ValidationError("--grounding \(text): '\(pair)' is not key=value")
        }
        let (key, value) = (parts[0], parts[1])
        func number() throws -> Float {
          guard let v = Float(value) else {
            throw ValidationError("--grounding \(text): \(key) must be a number")
          }
          return v
        }
        switch key {
        case "copy": setting.options.copyBias = try number()
        case "contrast": setting.options.contrastStrength = try number()
        case "ngram": setting.options.noRepeatNGramSize = Int(try number())
        case "sentence": setting.options.endAtSentence = try number() != 0
        case "sentences": setting.options.maxSentences = Int(try number())
        default:
          throw ValidationError(
            "--grounding \(text): unknown key '\(key)' (copy, contrast, ngram, sentence, sentences)"
          )
        }
      }
      return setting
    }

    func validate() throws {
      if questions.isEmpty { throw ValidationError("give at least one labelled question file") }
      for setting in grounding { _ = try Self.parseSetting(setting) }
    }

    /// One answered question.
    struct Row: Encodable {
      var model: String
      var setting: String
      var curriculum: String
      var question: String
      var relevant: [String]
      var answer: String
      var cited: [String]
      var quality: AnswerQuality
      var useful: Bool
      var finishReason: String
      var completionTokens: Int
      var firstTokenMilliseconds: Double
      var milliseconds: Double
    }

    func run() async throws {
      let settings = try (grounding.isEmpty ? ["default"] : grounding).map(Self.parseSetting)
      let models = model.isEmpty ? [Serve.bundledModel] : model
      let dictionary: Set<String>
      do {
        dictionary = try AnswerQuality.loadDictionary()
      } catch {
        throw ValidationError("no English word list at /usr/share/dict/words (apt-get install wamerican)")
      }
      var labelled: [RetrievalEvaluation.Question] = []
      for file in questions { labelled += try RetrievalEvaluation.loadQuestions(path: file) }
      let catalog = try CurriculumCatalog(
        root: curricula,
        retrieval: try await retrieval.retrieval(threads: threads)
      )
      let snapshot = catalog.snapshot
      for q in labelled where snapshot.curriculum(q.curriculum) == nil {
        throw ValidationError("question '\(q.question)': no curriculum '\(q.curriculum)' in \(curricula)")
      }
      let notes = Dictionary(
        snapshot.curricula.flatMap(\.snippets).map { ($0.id, $0.text) },
        uniquingKeysWith: { a, _ in a }
      )
      for q in labelled {
        for id in q.relevant where notes[id] == nil {
          throw ValidationError("question '\(q.question)': no snippet '\(id)' in \(curricula)")
        }
      }
      var limits = TutoringService.Limits()
      limits.snippetsPerPrompt = snippets
      limits.notesBestLast = notesBestLast
      if let template { limits.promptTemplate = try String(contentsOfFile: template, encoding: .utf8) }

      let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "tutor-eval-\(UUID().uuidString)"
      )
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(at: folder) }
      let store = try LearningRecordStore(path: folder.appendingPathComponent("eval.sqlite").path)

      var rows: [Row] = []
      for directory in models {
        let tutorModel = try await reportingErrors {
          try TutorModel.load(directory: URL(fileURLWithPath: directory), threads: threads)
        }
        defer { tutorModel.shutdown() }
        let service = TutoringService(catalog: catalog, model: tutorModel, store: store, limits: limits)
        for setting in settings {
          for (n, q) in labelled.enumerated() {
            Console.error("[\(tutorModel.name) \(setting.name)] \(n + 1)/\(labelled.count) \(q.question)")
            let session = try await service.startSession(
              by: .localOperator,
              studentId: "eval-\(n)",
              curriculumId: q.curriculum,
              lessonId: nil
            )
            var options = setting.options
            options.seed = seed
            options.maxNewTokens = maxNewTokens
            let clock = ContinuousClock()
            let start = clock.now
            var firstToken: Duration?
            let completion: TutoringService.AskCompletion
            do {
              completion = try await service.ask(
                by: .localOperator,
                sessionId: session.id,
                question: q.question,
                options: options
              ) {
                if case .delta = $0, firstToken == nil { firstToken = clock.now - start }
              }
            } catch let error as TutoringError {
              // A question this model cannot answer (its context is too small for the prompt,
              // say) counts as a failed answer, not as a missing row.
              Console.error("error: \(tutorModel.name), '\(q.question)': \(error)")
              rows.append(
                Row(
                  model: tutorModel.name,
                  setting: setting.name,
                  curriculum: q.curriculum,
                  question: q.question,
                  relevant: q.relevant,
                  answer: "",
                  cited: [],
                  quality: AnswerQuality(answer: "", relevantNotes: [], dictionary: dictionary),
                  useful: false,
                  finishReason: "error: \(error)",
                  completionTokens: 0,
                  firstTokenMilliseconds: 0,
                  milliseconds: 0
                )
              )
              continue
            }
            let quality = AnswerQuality(
              answer: completion.answer,
              relevantNotes: q.relevant.compactMap { notes[$0] },
              dictionary: dictionary
            )
            rows.append(
              Row(
                model: tutorModel.name,
                setting: setting.name,
                curriculum: q.curriculum,
                question: q.question,
                relevant: q.relevant,
                answer: completion.answer.trimmingCharacters(in: .whitespacesAndNewlines),
                cited: completion.snippetIds,
                quality: quality,
                useful: quality.isUseful,
                finishReason: completion.finishReason.rawValue,
                completionTokens: completion.completionTokens,
                firstTokenMilliseconds: (firstToken ?? clock.now - start).milliseconds,
                milliseconds: (clock.now - start).milliseconds
              )
            )
            if setting.name == settings[0].name, directory == models[0] {
              // The baseline: the top-ranked note's first two sentences, as they are.
              let top = completion.citations.first?.text ?? ""
              let answer = NoteSentences.split(top).prefix(2).joined(separator: " ")
              let quality = AnswerQuality(
                answer: answer,
                relevantNotes: q.relevant.compactMap { notes[$0] },
                dictionary: dictionary
              )
              rows.append(
                Row(
                  model: "extractive",
                  setting: "top note, 2 sentences",
                  curriculum: q.curriculum,
                  question: q.question,
                  relevant: q.relevant,
                  answer: answer,
                  cited: Array(completion.snippetIds.prefix(1)),
                  quality: quality,
                  useful: quality.isUseful,
                  finishReason: "baseline",
                  completionTokens: 0,
                  firstTokenMilliseconds: 0,
                  milliseconds: 0
                )
              )
            }
          }
        }
      }
      if let out {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for row in rows { data += try encoder.encode(row) + Data("\n".utf8) }
        guard FileManager.default.createFile(atPath: out, contents: data) else {
          throw ValidationError("cannot write \(out)")
        }
      }
      let summary = Self.summarize(rows)
      if json {
        try Console.writeJSON(["questions": labelled.count, "rows": summary])
      } else {
        Console.write(Self.table(summary, questions: labelled.count))
      }
    }

    static func summarize(_ rows: [Row]) -> [[String: Any]] {
      var order: [String] = []
      var groups: [String: [Row]] = [:]
      for row in rows {
        let key = row.model + "\u{1}" + row.setting
        if groups[key] == nil { order.append(key) }
        groups[key, default: []].append(row)
      }
      return order.map { key in
        let group = groups[key]!
        let n = Double(group.count)
        func mean(_ f: (Row) -> Double) -> Double { group.map(f).reduce(0, +) / n }
        let generated = group.filter { $0.finishReason != "baseline" && !$0.finishReason.hasPrefix("error") }
        return [
          "model": group[0].model,
          "setting": group[0].setting,
          "answers": group.count,
          "errors": group.filter { $0.finishReason.hasPrefix("error") }.count,
          "useful": mean { $0.useful ? 1 : 0 },
          "grounded": mean(\.quality.grounded),
          "english": mean(\.quality.english),
          "distinct_trigrams": mean(\.quality.distinctTrigrams),
          "words": mean { Double($0.quality.words) },
          "first_token_ms_median": median(generated.map(\.firstTokenMilliseconds)),
          "answer_ms_median": median(generated.map(\.milliseconds)),
          // Decoding speed: tokens after the first over the time after the first.
          "tokens_per_second_median": median(
            generated.filter { $0.completionTokens > 1 && $0.milliseconds > $0.firstTokenMilliseconds }.map {
              Double($0.completionTokens - 1) / (($0.milliseconds - $0.firstTokenMilliseconds) / 1000)
            }
          ),
        ]
      }
    }

    static func median(_ values: [Double]) -> Double {
      guard !values.isEmpty else { return 0 }
      let sorted = values.sorted()
      return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func table(_ summary: [[String: Any]], questions: Int) -> String {
      var text = "\(questions) questions; useful = english ≥ 0.9, distinct 3-grams ≥ 0.9, grounded ≥ 0.5, "
      text += "≥ 8 words; first token and tokens/s are medians\n"
      text +=
        "| model | setting | useful | grounded | english | distinct 3-grams | words | first token ms | tokens/s |\n"
      text += "|---|---|---|---|---|---|---|---|---|\n"
      for row in summary {
        func f(_ key: String, _ digits: Int = 2) -> String {
          String(format: "%.\(digits)f", row[key] as? Double ?? 0)
        }
        text +=
          "| \(row["model"]!) | \(row["setting"]!) | \(String(format: "%.0f%%", 100 * (row["useful"] as? Double ?? 0))) | "
          + "\(f("grounded")) | \(f("english")) | \(f("distinct_trigrams")) | \(f("words", 1)) | \(f("first_token_ms_median", 0)) | \(f("tokens_per_second_median", 0)) |\n"
      }
      return text
    }
  }
}

extension Duration {
  fileprivate var milliseconds: Double {
    let (s, atto) = components
    return Double(s) * 1000 + Double(atto) * 1e-15
  }
}
