import Analytics
import CSV
import Foundation
import Testing
import TutorBench
import TutorStore
import TutorTestSupport

/// Every export format parsed back with a real parser and checked field by field.
@Suite struct ExportTests {
  /// Text that breaks naive writers: separators, quotes, line breaks, tabs, non-ASCII.
  static let awkwardQuestion = "What is 3/4, \"as a decimal\"?\nAnd\tin words — trois quarts?"
  static let awkwardAnswer = "0.75, i.e. \"three quarters\";\r\nsee the lesson."

  /// A store with two students: Ada (a turn, a wrong attempt that revealed hint 1, a right one)
  /// in fractions, and Bo (a turn) in another curriculum.
  static func makeStore(_ engine: TestDatabase.Engine) async throws -> (LearningRecordStore, TestDatabase) {
    let database = try await TestDatabase.make(engine)
    let store = try await database.open()
    let ada = try await store.startSession(studentId: "ada", curriculumId: "fractions", lessonId: "decimals")
    let turn = try await store.beginTurn(
      sessionId: ada.id,
      question: awkwardQuestion,
      snippetIds: ["fractions/decimals#1", "fractions/intro#0"],
      promptTokens: 321
    )
    _ = try await store.finishTurn(
      id: turn.id,
      answer: awkwardAnswer,
      completionTokens: 42,
      latencyMilliseconds: 1250,
      status: .completed,
      finishReason: "end_of_text"
    )
    let base = turn.createdAtMs + 1
    for (i, (answer, correct)) in [("0.7", false), ("0.75", true)].enumerated() {
      try await store.recordAttempt(
        StoredAttempt(
          id: UUID().uuidString.lowercased(),
          sessionId: ada.id,
          studentId: "ada",
          curriculumId: "fractions",
          lessonId: "decimals",
          exerciseId: "three-quarters",
          objectiveId: "convert",
          answer: answer,
          correct: correct,
          hintsRevealed: i,
          hintRevealed: correct ? nil : 1,
          createdAtMs: base + Int64(i)
        ),
        mastery: correct ? 0.6 : 0.2
      )
    }
    try await Task.sleep(for: .milliseconds(20))
    let bo = try await store.startSession(studentId: "bo", curriculumId: "photosynthesis", lessonId: "light")
    _ = try await store.beginTurn(
      sessionId: bo.id,
      question: "Why are leaves green?",
      snippetIds: [],
      promptTokens: 99
    )
    return (store, database)
  }

  static func export(
    _ store: LearningRecordStore,
    _ format: ExportFormat,
    filter: ExportFilter = ExportFilter(),
    options: ExportOptions = ExportOptions(homePage: "https://school.example/tutor/")
  ) throws -> String {
    var data = Data()
    // A tiny chunk size, so that records span chunks.
    try AnalyticsExporter.export(
      from: store,
      filter: filter,
      format: format,
      options: options,
      chunkSize: 100
    ) {
      data.append($0)
    }
    return String(decoding: data, as: UTF8.self)
  }

  @Test(arguments: TestDatabase.engines) func csvRoundTripsThroughACSVReader(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let text = try Self.export(store, .csv)
    let reader = try CSVReader(string: text, hasHeaderRow: true)
    #expect(reader.headerRow == AnalyticsExporter.csvColumns)
    var rows: [[String: String]] = []
    while let row = reader.next() {
      #expect(row.count == AnalyticsExporter.csvColumns.count)
      rows.append(Dictionary(uniqueKeysWithValues: zip(AnalyticsExporter.csvColumns, row)))
    }
    #expect(rows.map { $0["record_type"] } == ["turn", "attempt", "attempt", "turn"])
    let turn = rows[0]
    #expect(turn["question"] == Self.awkwardQuestion)
    #expect(turn["answer"] == Self.awkwardAnswer)
    #expect(turn["student_id"] == "ada")
    #expect(turn["curriculum_id"] == "fractions" && turn["lesson_id"] == "decimals")
    #expect(
      turn["prompt_tokens"] == "321" && turn["completion_tokens"] == "42" && turn["latency_ms"] == "1250"
    )
    #expect(turn["snippet_ids"] == "fractions/decimals#1;fractions/intro#0")
    #expect(turn["status"] == "completed")
    #expect(
      turn["created_at"]!.hasSuffix("Z")
        && ISO8601DateFormatter.withMilliseconds.date(from: turn["created_at"]!) != nil
    )
    let wrong = rows[1]
    #expect(wrong["exercise_id"] == "three-quarters" && wrong["objective_id"] == "convert")
    #expect(wrong["correct"] == "false" && wrong["answer"] == "0.7")
    #expect(wrong["attempt_number"] == "1" && wrong["hints_before"] == "0" && wrong["hint_revealed"] == "1")
    #expect(
      rows[2]["correct"] == "true" && rows[2]["attempt_number"] == "2" && rows[2]["hint_revealed"] == ""
    )
    #expect(rows[3]["student_id"] == "bo" && rows[3]["status"] == "answering")
  }

  @Test(arguments: TestDatabase.engines) func jsonLinesCarryTheSameFields(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let lines = try Self.export(store, .jsonl).split(separator: "\n")
    #expect(lines.count == 4)
    let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    #expect(objects[0]["question"] as? String == Self.awkwardQuestion)
    #expect(objects[0]["answer"] as? String == Self.awkwardAnswer)
    #expect(objects[0]["snippet_ids"] as? [String] == ["fractions/decimals#1", "fractions/intro#0"])
    #expect(objects[0]["prompt_tokens"] as? Int == 321)
    #expect(objects[1]["correct"] as? Bool == false && objects[1]["hint_revealed"] as? Int == 1)
    #expect(objects[2]["correct"] as? Bool == true && objects[2]["hint_revealed"] == nil)
    for object in objects { #expect(Set(object.keys).isSubset(of: AnalyticsExporter.csvColumns)) }
  }

  /// The statement properties xAPI 1.0.3 requires (section 2.4), in the forms it requires.
  @Test(arguments: TestDatabase.engines) func xapiStatementsHaveTheRequiredProperties(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let text = try Self.export(store, .xapi)
    let statements = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    #expect(statements.count == 4)
    for statement in statements {
      #expect(UUID(uuidString: statement["id"] as? String ?? "") != nil)
      let actor = try #require(statement["actor"] as? [String: Any])
      let account = try #require(actor["account"] as? [String: Any])
      #expect(account["homePage"] as? String == "https://school.example/tutor")
      #expect(["ada", "bo"].contains(account["name"] as? String))
      let verb = try #require(statement["verb"] as? [String: Any])
      let verbId = try #require(verb["id"] as? String)
      #expect(
        ["http://adlnet.gov/expapi/verbs/asked", "http://adlnet.gov/expapi/verbs/answered"].contains(verbId)
      )
      #expect((verb["display"] as? [String: String])?["en-US"] != nil)
      let object = try #require(statement["object"] as? [String: Any])
      #expect(object["objectType"] as? String == "Activity")
      let objectId = try #require(object["id"] as? String)
      #expect(
        URL(string: objectId)?.scheme == "https"
          && objectId.hasPrefix("https://school.example/tutor/curricula/")
      )
      let context = try #require(statement["context"] as? [String: Any])
      #expect(UUID(uuidString: context["registration"] as? String ?? "") != nil)
      let parents = (context["contextActivities"] as? [String: Any])?["parent"] as? [[String: Any]]
      #expect(
        parents?.first?["id"] as? String == "https://school.example/tutor/curricula/"
          + (objectId.contains("photosynthesis") ? "photosynthesis" : "fractions")
      )
      #expect(
        ISO8601DateFormatter.withMilliseconds.date(from: statement["timestamp"] as? String ?? "") != nil
      )
      #expect(statement["version"] as? String == "1.0.3")
    }
    let asked = try #require(statements.first)
    let result = try #require(asked["result"] as? [String: Any])
    #expect(result["response"] as? String == Self.awkwardQuestion)
    #expect(result["duration"] as? String == "PT1.25S")
    #expect(result["completion"] as? Bool == true)
    let answered = try #require(statements[1]["result"] as? [String: Any])
    #expect(answered["success"] as? Bool == false && answered["response"] as? String == "0.7")
    #expect((statements[2]["result"] as? [String: Any])?["success"] as? Bool == true)
    let exercise = try #require(statements[1]["object"] as? [String: Any])
    #expect(
      exercise["id"] as? String == "https://school.example/tutor/curricula/fractions/exercises/three-quarters"
    )
    #expect((exercise["definition"] as? [String: Any])?["interactionType"] as? String == "fill-in")
  }

  @Test(arguments: TestDatabase.engines) func dataShopHasItsColumnsAndOneRowPerAttemptAndHint(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let lines = try Self.export(store, .datashop).split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.last == "")
    let header = lines[0].split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    #expect(header == AnalyticsExporter.dataShopColumns)
    #expect(
      header.first == "Row" && header.contains("Anon Student Id") && header.last == "KC Category (Default)"
    )
    let rows = lines.dropFirst().dropLast().map {
      Dictionary(
        uniqueKeysWithValues: zip(
          header,
          $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        )
      )
    }
    // Two attempts and the hint the wrong one revealed; no rows for turns.
    #expect(rows.count == 3)
    #expect(rows.map { $0["Row"] } == ["1", "2", "3"])
    #expect(rows.map { $0["Student Response Type"] } == ["ATTEMPT", "HINT_REQUEST", "ATTEMPT"])
    #expect(rows.map { $0["Tutor Response Type"] } == ["RESULT", "HINT_MSG", "RESULT"])
    #expect(rows.map { $0["Outcome"] } == ["INCORRECT", "HINT", "CORRECT"])
    #expect(rows.map { $0["Attempt At Step"] } == ["1", "1", "2"])
    #expect(rows.map { $0["Is Last Attempt"] } == ["0", "0", "1"])
    #expect(rows[1]["Help Level"] == "1")
    #expect(rows.allSatisfy { $0["Anon Student Id"] == "ada" && $0["KC (Default)"] == "convert" })
    #expect(
      rows.allSatisfy { $0["Problem Name"] == "three-quarters" && $0["Level (Course)"] == "fractions" }
    )
    #expect(rows[2]["Input"] == "0.75" && rows[2]["Time Zone"] == "UTC")
    // The second attempt came 1 ms after the first; the first is timed from the session's start.
    #expect(rows.map { $0["Duration (sec)"] }.dropFirst() == ["0", "0.001"])
    #expect(Double(rows[0]["Duration (sec)"] ?? "") ?? -1 >= 0)
    let problemStart = try #require(rows[0]["Problem Start Time"])
    #expect(rows.allSatisfy { $0["Problem Start Time"] == problemStart })
    #expect(problemStart <= rows[0]["Time"]! && problemStart.count == "2026-01-01 08:30:00.250".count)
    // Hints on offer come from the curricula, when the export has them.
    #expect(rows.allSatisfy { $0["Total Num Hints"] == "" })
    let withHints = try Self.export(
      store,
      .datashop,
      options: ExportOptions(
        hintCounts: [
          ExerciseKey(curriculumId: "fractions", lessonId: "decimals", exerciseId: "three-quarters"): 3
        ]
      )
    )
    #expect(withHints.split(separator: "\n").dropFirst().allSatisfy { $0.hasSuffix("\t3\tconvert\t") })
  }

  /// An export that starts between two attempts still numbers and times the later one within
  /// its session.
  @Test(arguments: TestDatabase.engines) func attemptsKeepTheirPlaceInTheSessionWhenSinceCutsIn(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let all = try Self.export(store, .jsonl).split(separator: "\n").map {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
    let second = try #require(all.filter { $0["record_type"] as? String == "attempt" }.last)
    let since = try #require(
      ISO8601DateFormatter.withMilliseconds.date(from: second["created_at"] as! String)
    )
    let text = try Self.export(store, .xapi, filter: ExportFilter(since: since, studentId: "ada"))
    let statements = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    #expect(statements.count == 1)
    let result = try #require(statements.first?["result"] as? [String: Any])
    #expect(result["duration"] as? String == "PT0.001S")
    let extensions = try #require(result["extensions"] as? [String: Any])
    #expect(extensions["https://school.example/tutor/xapi/extensions/attempt"] as? Int == 2)
  }

  @Test(arguments: TestDatabase.engines) func pseudonymsAreStableSecretDependentAndHideTheIds(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let options = ExportOptions(pseudonymizer: Pseudonymizer(secret: "s3cret"))
    let first = try Self.export(store, .csv, options: options)
    let again = try Self.export(store, .csv, options: options)
    let other = try Self.export(
      store,
      .csv,
      options: ExportOptions(pseudonymizer: Pseudonymizer(secret: "other"))
    )
    #expect(first == again)
    #expect(first != other)
    let ada = Pseudonymizer(secret: "s3cret").pseudonym(for: "ada")
    #expect(ada.hasPrefix("p-") && ada.count == 34)
    #expect(first.contains(ada))
    for format in ExportFormat.allCases {
      let text = try Self.export(store, format, options: options)
      #expect(!text.contains(",ada,") && !text.contains("\"ada\"") && !text.contains("\tada\t"), "\(format)")
    }
  }

  @Test(arguments: TestDatabase.engines) func filtersAndNoTextLeaveRecordsOut(
    engine: TestDatabase.Engine
  ) async throws {
    let (store, database) = try await Self.makeStore(engine)
    defer { withExtendedLifetime(database) {} }
    let noText = try Self.export(store, .jsonl, options: ExportOptions(includeText: false))
    // (Not "0.75" alone: a time's milliseconds, "…:00.75…", may contain it.)
    #expect(!noText.contains("as a decimal") && !noText.contains("leaves") && !noText.contains(#""answer":"#))
    #expect(noText.split(separator: "\n").count == 4)
    #expect(
      try Self.export(store, .jsonl, filter: ExportFilter(curriculumId: "photosynthesis")).split(
        separator: "\n"
      ).count == 1
    )
    #expect(
      try Self.export(store, .jsonl, filter: ExportFilter(studentId: "ada")).split(separator: "\n").count == 3
    )
    #expect(
      try Self.export(store, .jsonl, filter: ExportFilter(since: Date().addingTimeInterval(60))).isEmpty
    )
    #expect(
      try Self.export(store, .jsonl, filter: ExportFilter(until: Date(timeIntervalSince1970: 0))).isEmpty
    )
    #expect(try Self.export(store, .xapi, filter: ExportFilter(studentId: "nobody")) == "[]\n")
  }

  @Test(arguments: TestDatabase.engines)
  func aSyntheticHistoryExportsEveryRecord(engine: TestDatabase.Engine) async throws {
    let database = try await TestDatabase.make(engine)
    let store = try await database.open()
    let written = try await store.writeSyntheticHistory(
      students: 7,
      sessionsPerStudent: 3,
      turnsPerSession: 5,
      attemptsPerSession: 4
    )
    #expect(written.turns == 105 && written.attempts == 84)
    let csv = try Self.export(store, .csv)
    let reader = try CSVReader(string: csv, hasHeaderRow: true)
    var count = 0
    var last = ""
    while let row = reader.next() {
      count += 1
      #expect(row[8] >= last, "records oldest first")
      last = row[8]
    }
    #expect(count == 189)
    // Half of the attempts are wrong and reveal a hint: 84 attempts + 42 hints.
    #expect(try Self.export(store, .datashop).split(separator: "\n").count == 1 + 84 + 42)
  }
}

extension ISO8601DateFormatter {
  static var withMilliseconds: ISO8601DateFormatter {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions.insert(.withFractionalSeconds)
    return formatter
  }
}
