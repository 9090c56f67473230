import Foundation
import TutorStore

/// Writes learning records in one of the ``ExportFormat``s, record by record, so that an export
/// of any size streams in constant memory.
///
/// ```swift
/// try AnalyticsExporter.export(from: store, filter: ExportFilter(curriculumId: "fractions-ratios"),
///                              format: .csv, options: ExportOptions(includeText: false)) { chunk in
///   try handle.write(contentsOf: chunk)
/// }
/// ```
public struct AnalyticsExporter: Sendable {
  public let format: ExportFormat
  public let options: ExportOptions
  private var rowsWritten = 0

  public init(format: ExportFormat, options: ExportOptions = ExportOptions()) {
    self.format = format
    self.options = options
  }

  /// The columns of the CSV export (and the keys of the JSON Lines objects).
  public static let csvColumns = [
    "record_type", "id", "session_id", "student_id", "curriculum_id", "lesson_id", "exercise_id",
    "objective_id", "created_at", "completed_at", "question", "answer", "status", "finish_reason",
    "correct", "attempt_number", "hints_before", "hint_revealed", "prompt_tokens", "completion_tokens",
    "latency_ms", "snippet_ids",
  ]

  /// DataShop's transaction columns, in its order.
  public static let dataShopColumns = [
    "Row", "Sample Name", "Transaction Id", "Anon Student Id", "Session Id", "Time", "Time Zone",
    "Duration (sec)", "Student Response Type", "Student Response Subtype", "Tutor Response Type",
    "Tutor Response Subtype", "Level (Curriculum)", "Level (Lesson)", "Problem Name", "Problem View",
    "Problem Start Time", "Step Name", "Attempt At Step", "Is Last Attempt", "Outcome", "Selection",
    "Action", "Input", "Feedback Text", "Feedback Classification", "Help Level", "Total Num Hints",
    "KC (Default)", "KC Category (Default)",
  ]

  /// What comes before the first record.
  public func header() -> String {
    switch format {
    case .csv: Self.csvColumns.joined(separator: ",") + "\r\n"
    case .jsonl: ""
    case .xapi: "["
    case .datashop: Self.dataShopColumns.joined(separator: "\t") + "\n"
    }
  }

  /// What comes after the last record.
  public func footer() -> String {
    format == .xapi ? (rowsWritten == 0 ? "]\n" : "\n]\n") : ""
  }

  /// The text of one record: one or more rows or statements (DataShop writes an attempt that
  /// revealed a hint as two transactions), or nothing (DataShop has no rows for turns).
  public mutating func format(_ record: ExportRecord) -> String {
    switch format {
    case .csv:
      rowsWritten += 1
      return csv(record)
    case .jsonl:
      rowsWritten += 1
      return jsonLine(record)
    case .xapi:
      let statement = xapiStatement(record)
      defer { rowsWritten += 1 }
      return (rowsWritten == 0 ? "\n" : ",\n") + statement
    case .datashop: return dataShopRows(record)
    }
  }

  /// Rows (or statements, or transactions) written so far.
  public var count: Int { rowsWritten }

  /// Reads the records `filter` selects from `store` and writes the export to `sink` in chunks of
  /// about `chunkSize` bytes. Blocks the calling thread (see ``TutorStore/exportRecords(_:_:)``).
  /// Returns the number of records read.
  @discardableResult
  public static func export(
    from store: TutorStore,
    filter: ExportFilter,
    format: ExportFormat,
    options: ExportOptions,
    chunkSize: Int = 64 * 1024,
    sink: (Data) throws -> Void
  ) throws -> Int {
    var exporter = AnalyticsExporter(format: format, options: options)
    var buffer = exporter.header()
    var records = 0
    try store.exportRecords(filter) { record in
      buffer += exporter.format(record)
      records += 1
      if buffer.utf8.count >= chunkSize {
        try sink(Data(buffer.utf8))
        buffer = ""
        buffer.reserveCapacity(chunkSize + 4096)
      }
    }
    buffer += exporter.footer()
    if !buffer.isEmpty { try sink(Data(buffer.utf8)) }
    return records
  }

  // MARK: - Fields

  private func student(_ id: String) -> String {
    options.pseudonymizer?.pseudonym(for: id) ?? id
  }

  private func text(_ value: String) -> String? { options.includeText ? value : nil }

  /// The record's values in ``csvColumns`` order; nil for an empty field.
  private func fields(_ record: ExportRecord) -> [Field] {
    switch record {
    case .turn(let turn, let studentId, let curriculumId, let lessonId):
      return [
        .text("turn"), .text(turn.id), .text(turn.sessionId), .text(student(studentId)), .text(curriculumId),
        .text(lessonId), .none, .none, .text(Timestamps.iso8601(turn.createdAtMs)),
        turn.completedAtMs.map { .text(Timestamps.iso8601($0)) } ?? .none,
        text(turn.question).map(Field.text) ?? .none, text(turn.answer).map(Field.text) ?? .none,
        .text(turn.status.rawValue), turn.finishReason.map(Field.text) ?? .none, .none, .none, .none, .none,
        .number(turn.promptTokens), .number(turn.completionTokens),
        turn.latencyMilliseconds.map(Field.number) ?? .none, .list(turn.snippetIds),
      ]
    case .attempt(let attempt, let number, _):
      return [
        .text("attempt"), .text(attempt.id), .text(attempt.sessionId), .text(student(attempt.studentId)),
        .text(attempt.curriculumId), .text(attempt.lessonId), .text(attempt.exerciseId),
        attempt.objectiveId.map(Field.text) ?? .none, .text(Timestamps.iso8601(attempt.createdAtMs)), .none,
        .none, text(attempt.answer).map(Field.text) ?? .none, .none, .none, .bool(attempt.correct),
        .number(number), .number(attempt.hintsRevealed), attempt.hintRevealed.map(Field.number) ?? .none,
        .none, .none, .none, .none,
      ]
    }
  }

  enum Field {
    case none
    case text(String)
    case number(Int)
    case bool(Bool)
    case list([String])
  }

  // MARK: - CSV and JSON Lines

  private func csv(_ record: ExportRecord) -> String {
    var line = ""
    for (i, field) in fields(record).enumerated() {
      if i > 0 { line += "," }
      switch field {
      case .none: break
      case .text(let value): line += Self.csvEscape(value)
      case .number(let value): line += String(value)
      case .bool(let value): line += value ? "true" : "false"
      case .list(let values): line += Self.csvEscape(values.joined(separator: ";"))
      }
    }
    return line + "\r\n"
  }

  /// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
  static func csvEscape(_ value: String) -> String {
    guard value.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
      return value
    }
    return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  private func jsonLine(_ record: ExportRecord) -> String {
    var line = "{"
    var first = true
    for (name, field) in zip(Self.csvColumns, fields(record)) {
      let value: String
      switch field {
      case .none: continue
      case .text(let text): value = JSON.string(text)
      case .number(let number): value = String(number)
      case .bool(let bool): value = bool ? "true" : "false"
      case .list(let values): value = "[" + values.map(JSON.string).joined(separator: ",") + "]"
      }
      line += (first ? "" : ",") + JSON.string(name) + ":" + value
      first = false
    }
    return line + "}\n"
  }

  // MARK: - xAPI 1.0.3

  private static let verbs = [
    "asked": "http://adlnet.gov/expapi/verbs/asked",
    "answered": "http://adlnet.gov/expapi/verbs/answered",
  ]

  /// One statement. Turns: the student `asked` (object: the lesson; result: the question as the
  /// response, the explanation in an extension, the generation time as the duration). Attempts:
  /// the student `answered` (object: the exercise, a cmi.interaction; result: success and the
  /// response). Both carry the session as the registration, the curriculum as the parent
  /// activity and the lesson as the grouping activity.
  private func xapiStatement(_ record: ExportRecord) -> String {
    let home = options.homePage
    let ext = home + "/xapi/extensions/"
    var statement: [(String, String)] = []
    let verb: String
    let object: String
    var result: [(String, String)] = []
    let sessionId: String
    let studentId: String
    let curriculumId: String
    let lessonId: String
    let timestamp: Int64
    let id: String
    switch record {
    case .turn(let turn, let student, let curriculum, let lesson):
      (id, sessionId, studentId, curriculumId, lessonId, timestamp) =
        (turn.id, turn.sessionId, student, curriculum, lesson, turn.createdAtMs)
      verb = "asked"
      object = Self.activity(
        id: "\(home)/curricula/\(Self.pathComponent(curriculum))/lessons/\(Self.pathComponent(lesson))",
        name: lesson,
        type: "http://adlnet.gov/expapi/activities/lesson"
      )
      if let question = text(turn.question) { result.append(("response", JSON.string(question))) }
      result.append(("completion", turn.status == .completed ? "true" : "false"))
      if let latency = turn.latencyMilliseconds {
        result.append(("duration", JSON.string(Timestamps.duration(latency))))
      }
      var extensions = [
        (ext + "status", JSON.string(turn.status.rawValue)),
        (ext + "prompt-tokens", String(turn.promptTokens)),
        (ext + "completion-tokens", String(turn.completionTokens)),
        (ext + "snippet-ids", "[" + turn.snippetIds.map(JSON.string).joined(separator: ",") + "]"),
      ]
      if let answer = text(turn.answer) { extensions.append((ext + "explanation", JSON.string(answer))) }
      result.append(("extensions", JSON.object(extensions.map { (JSON.string($0.0), $0.1) })))
    case .attempt(let attempt, let number, _):
      (id, sessionId, studentId, curriculumId, lessonId, timestamp) =
        (
          attempt.id, attempt.sessionId, attempt.studentId, attempt.curriculumId, attempt.lessonId,
          attempt.createdAtMs
        )
      verb = "answered"
      object = Self.activity(
        id: "\(home)/curricula/\(Self.pathComponent(attempt.curriculumId))/exercises/"
          + Self.pathComponent(attempt.exerciseId),
        name: attempt.exerciseId,
        type: "http://adlnet.gov/expapi/activities/cmi.interaction",
        interactionType: "fill-in"
      )
      result.append(("success", attempt.correct ? "true" : "false"))
      if let answer = text(attempt.answer) { result.append(("response", JSON.string(answer))) }
      var extensions = [
        (ext + "attempt", String(number)), (ext + "hints-before", String(attempt.hintsRevealed)),
      ]
      if let hint = attempt.hintRevealed { extensions.append((ext + "hint-revealed", String(hint))) }
      if let objective = attempt.objectiveId {
        extensions.append((ext + "objective", JSON.string(objective)))
      }
      result.append(("extensions", JSON.object(extensions.map { (JSON.string($0.0), $0.1) })))
    }
    let account = JSON.object([
      ("\"homePage\"", JSON.string(home)), ("\"name\"", JSON.string(student(studentId))),
    ])
    statement.append(("\"id\"", JSON.string(id)))
    statement.append(("\"actor\"", JSON.object([("\"objectType\"", "\"Agent\""), ("\"account\"", account)])))
    statement.append(
      (
        "\"verb\"",
        JSON.object([
          ("\"id\"", JSON.string(Self.verbs[verb]!)),
          ("\"display\"", JSON.object([("\"en-US\"", JSON.string(verb))])),
        ])
      )
    )
    statement.append(("\"object\"", object))
    statement.append(("\"result\"", JSON.object(result.map { (JSON.string($0.0), $0.1) })))
    let curriculumActivity = Self.activity(
      id: "\(home)/curricula/\(Self.pathComponent(curriculumId))",
      name: curriculumId,
      type: "http://adlnet.gov/expapi/activities/course"
    )
    var contextActivities = [("\"parent\"", "[" + curriculumActivity + "]")]
    if case .attempt = record {
      let lesson = Self.activity(
        id: "\(home)/curricula/\(Self.pathComponent(curriculumId))/lessons/\(Self.pathComponent(lessonId))",
        name: lessonId,
        type: "http://adlnet.gov/expapi/activities/lesson"
      )
      contextActivities.append(("\"grouping\"", "[" + lesson + "]"))
    }
    statement.append(
      (
        "\"context\"",
        JSON.object([
          ("\"registration\"", JSON.string(sessionId)),
          ("\"platform\"", "\"tutor\""),
          ("\"contextActivities\"", JSON.object(contextActivities)),
        ])
      )
    )
    statement.append(("\"timestamp\"", JSON.string(Timestamps.iso8601(timestamp))))
    statement.append(("\"version\"", "\"1.0.3\""))
    return JSON.object(statement)
  }

  private static func activity(
    id: String,
    name: String,
    type: String,
    interactionType: String? = nil
  ) -> String {
    var definition = [
      ("\"name\"", JSON.object([("\"en-US\"", JSON.string(name))])), ("\"type\"", JSON.string(type)),
    ]
    if let interactionType { definition.append(("\"interactionType\"", JSON.string(interactionType))) }
    return JSON.object([
      ("\"objectType\"", "\"Activity\""), ("\"id\"", JSON.string(id)),
      ("\"definition\"", JSON.object(definition)),
    ])
  }

  /// An id as one URI path segment (IRIs in activity ids must not carry spaces or slashes).
  private static func pathComponent(_ value: String) -> String {
    value.addingPercentEncoding(
      withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
    )
      ?? value
  }

  // MARK: - DataShop

  /// An attempt is one ATTEMPT transaction (outcome CORRECT or INCORRECT); when the tutor's answer
  /// to it revealed a hint, a HINT_REQUEST/HINT_MSG transaction follows with the hint's number as
  /// the help level. Each exercise is one single-step problem. Turns have no DataShop rows.
  private mutating func dataShopRows(_ record: ExportRecord) -> String {
    guard case .attempt(let attempt, let number, let total) = record else { return "" }
    var out = ""
    func row(_ values: [String]) {
      rowsWritten += 1
      out += ([String(rowsWritten)] + values.map(Self.tsvField)).joined(separator: "\t") + "\n"
    }
    let time = Timestamps.dataShop(attempt.createdAtMs)
    let student = student(attempt.studentId)
    let kc = attempt.objectiveId ?? ""
    let input = text(attempt.answer) ?? ""
    // Sample Name … Tutor Response Subtype, then Level (Curriculum) … KC Category (Default).
    row([
      "All Data", attempt.id, student, attempt.sessionId, time, "UTC", "", "ATTEMPT", "", "RESULT", "",
      attempt.curriculumId, attempt.lessonId, attempt.exerciseId, "1", "", attempt.exerciseId, String(number),
      number == total ? "1" : "0", attempt.correct ? "CORRECT" : "INCORRECT", attempt.exerciseId, "submit",
      input, "", "", "", "", kc, "",
    ])
    if let hint = attempt.hintRevealed {
      row([
        "All Data", attempt.id + "-hint", student, attempt.sessionId, time, "UTC", "", "HINT_REQUEST", "",
        "HINT_MSG", "", attempt.curriculumId, attempt.lessonId, attempt.exerciseId, "1", "",
        attempt.exerciseId, String(number), number == total ? "1" : "0", "HINT", attempt.exerciseId,
        "hint", "", "", "", String(hint), "", kc, "",
      ])
    }
    return out
  }

  /// Tabs and line breaks would split a transaction: they become spaces.
  private static func tsvField(_ value: String) -> String {
    guard value.utf8.contains(where: { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return value }
    return String(value.map { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
  }
}

/// Minimal JSON writing: exports build their objects directly (JSONEncoder per row would be the
/// slowest part of an export).
enum JSON {
  static func string(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  /// Keys already quoted.
  static func object(_ members: [(String, String)]) -> String {
    "{" + members.map { $0.0 + ":" + $0.1 }.joined(separator: ",") + "}"
  }
}

/// Timestamps in the forms the formats want, from milliseconds since 1970 (UTC).
enum Timestamps {
  private static func parts(_ ms: Int64) -> (tm, Int) {
    var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
    let millis = Int(ms - Int64(seconds) * 1000)
    var t = tm()
    gmtime_r(&seconds, &t)
    return (t, millis)
  }

  private static func pad(_ value: Int32, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
  }

  /// `2026-01-01T08:30:00.250Z`
  static func iso8601(_ ms: Int64) -> String {
    let (t, millis) = parts(ms)
    return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T\(pad(t.tm_hour, 2)):"
      + "\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
  }

  /// `2026-01-01 08:30:00.250` (DataShop's format; the zone goes in its own column).
  static func dataShop(_ ms: Int64) -> String {
    let (t, millis) = parts(ms)
    return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2)) \(pad(t.tm_hour, 2)):"
      + "\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(millis), 3))"
  }

  /// ISO 8601 duration: `PT1.25S`.
  static func duration(_ ms: Int) -> String {
    let seconds = ms / 1000
    let rest = ms % 1000
    if rest == 0 { return "PT\(seconds)S" }
    var fraction = String(rest)
    fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return "PT\(seconds).\(fraction)S"
  }
}
