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
  /// Rows (or statements, or transactions) written so far.
  var rowsWritten = 0
  /// The home page as JSON string content (escaped, unquoted): every xAPI IRI starts with it.
  let jsonHome: String
  /// Pseudonyms already computed: an HMAC per record would cost more than the rest of the row.
  /// Cleared when full, so memory stays bounded however many students an export covers.
  private var pseudonyms: [String: String] = [:]

  init(format: ExportFormat, options: ExportOptions) {
    self.format = format
    self.options = options
    var home = ExportBytes()
    home.append(jsonContent: options.homePage)
    jsonHome = String(decoding: home.bytes, as: UTF8.self)
  }

  /// The columns of the CSV export (and the keys of the JSON Lines objects).
  public static let csvColumns = [
    "record_type", "id", "session_id", "student_id", "curriculum_id", "lesson_id", "exercise_id",
    "objective_id", "created_at", "completed_at", "question", "answer", "status", "finish_reason",
    "correct", "attempt_number", "hints_before", "hint_revealed", "prompt_tokens", "completion_tokens",
    "latency_ms", "snippet_ids", "flags",
  ]

  /// DataShop's transaction columns, in its order.
  public static let dataShopColumns = [
    "Row", "Sample Name", "Transaction Id", "Anon Student Id", "Session Id", "Time", "Time Zone",
    "Duration (sec)", "Student Response Type", "Student Response Subtype", "Tutor Response Type",
    "Tutor Response Subtype", "Level (Course)", "Level (Lesson)", "Problem Name", "Problem View",
    "Problem Start Time", "Step Name", "Attempt At Step", "Is Last Attempt", "Outcome", "Selection",
    "Action", "Input", "Feedback Text", "Feedback Classification", "Help Level", "Total Num Hints",
    "KC (Default)", "KC Category (Default)",
  ]

  /// Reads the records `filter` selects from `store` and writes the export to `sink` in chunks of
  /// about `chunkSize` bytes. Blocks the calling thread (see ``LearningRecordStore/exportRecords(_:_:)``).
  /// Returns the number of records read.
  @discardableResult
  public static func export(
    from store: LearningRecordStore,
    filter: ExportFilter,
    format: ExportFormat,
    options: ExportOptions,
    chunkSize: Int = 64 * 1024,
    sink: (Data) throws -> Void
  ) throws -> Int {
    var exporter = AnalyticsExporter(format: format, options: options)
    var out = ExportBytes(capacity: chunkSize + 16 * 1024)
    exporter.writeHeader(to: &out)
    var records = 0
    try store.exportRecords(filter) { record in
      exporter.write(record, to: &out)
      records += 1
      if out.count >= chunkSize {
        try sink(Data(out.bytes))
        out.removeAll()
      }
    }
    exporter.writeFooter(to: &out)
    if out.count > 0 { try sink(Data(out.bytes)) }
    return records
  }

  /// What comes before the first record.
  func writeHeader(to out: inout ExportBytes) {
    switch format {
    case .csv:
      out.append(Self.csvColumns.joined(separator: ","))
      out.append("\r\n")
    case .jsonl: break
    case .xapi: out.append("[")
    case .datashop:
      out.append(Self.dataShopColumns.joined(separator: "\t"))
      out.append("\n")
    }
  }

  /// What comes after the last record.
  func writeFooter(to out: inout ExportBytes) {
    if format == .xapi { out.append(rowsWritten == 0 ? "]\n" : "\n]\n") }
  }

  /// One record: a row, a statement, or (DataShop) one or two transactions or none (turns).
  mutating func write(_ record: ExportRecord, to out: inout ExportBytes) {
    switch format {
    case .csv: writeCSV(record, to: &out)
    case .jsonl: writeJSONLine(record, to: &out)
    case .xapi:
      out.append(rowsWritten == 0 ? "\n" : ",\n")
      writeStatement(record, to: &out)
    case .datashop: writeTransactions(record, to: &out)
    }
  }

  // MARK: - Fields

  mutating func student(_ id: String) -> String {
    guard let pseudonymizer = options.pseudonymizer else { return id }
    if let known = pseudonyms[id] { return known }
    if pseudonyms.count >= 4096 { pseudonyms.removeAll(keepingCapacity: true) }
    let pseudonym = pseudonymizer.pseudonym(for: id)
    pseudonyms[id] = pseudonym
    return pseudonym
  }

  func text(_ value: String) -> String? { options.includeText ? value : nil }

  enum Field {
    case none
    case text(String)
    case time(Int64)
    case number(Int)
    case bool(Bool)
    case list([String])
  }

  /// Calls `body` with each of the record's fields in ``csvColumns`` order.
  private mutating func forEachField(_ record: ExportRecord, _ body: (Int, Field) -> Void) {
    func optional<T>(_ value: T?, _ field: (T) -> Field) -> Field { value.map(field) ?? .none }
    switch record {
    case .turn(let turn, let studentId, let curriculumId, let lessonId):
      let fields: [Field] = [
        .text("turn"), .text(turn.id), .text(turn.sessionId), .text(student(studentId)), .text(curriculumId),
        .text(lessonId), .none, .none, .time(turn.createdAtMs), optional(turn.completedAtMs, Field.time),
        optional(text(turn.question), Field.text), optional(text(turn.answer), Field.text),
        .text(turn.status.rawValue), optional(turn.finishReason, Field.text), .none, .none, .none, .none,
        .number(turn.promptTokens), .number(turn.completionTokens),
        optional(turn.latencyMilliseconds, Field.number), .list(turn.snippetIds),
        // What screening found, as `source:category:severity` (`question:self_harm:high`).
        turn.flags.isEmpty
          ? .none : .list(turn.flags.map { "\($0.source.rawValue):\($0.category):\($0.severity)" }),
      ]
      for (i, field) in fields.enumerated() { body(i, field) }
    case .attempt(let attempt, let context):
      let fields: [Field] = [
        .text("attempt"), .text(attempt.id), .text(attempt.sessionId), .text(student(attempt.studentId)),
        .text(attempt.curriculumId), .text(attempt.lessonId), .text(attempt.exerciseId),
        optional(attempt.objectiveId, Field.text), .time(attempt.createdAtMs), .none, .none,
        optional(text(attempt.answer), Field.text), .none, .none, .bool(attempt.correct),
        .number(context.number), .number(attempt.hintsRevealed), optional(attempt.hintRevealed, Field.number),
        .none, .none, .none, .none,
        attempt.flags.isEmpty
          ? .none : .list(attempt.flags.map { "\($0.source.rawValue):\($0.category):\($0.severity)" }),
      ]
      for (i, field) in fields.enumerated() { body(i, field) }
    }
  }

  // MARK: - CSV and JSON Lines

  private mutating func writeCSV(_ record: ExportRecord, to out: inout ExportBytes) {
    rowsWritten += 1
    forEachField(record) { i, field in
      if i > 0 { out.append(byte: UInt8(ascii: ",")) }
      switch field {
      case .none: break
      case .text(let value): out.append(csv: value)
      case .time(let ms): out.append(iso8601: ms)
      case .number(let value): out.append(decimal: value)
      case .bool(let value): out.append(value ? "true" : "false")
      case .list(let values): out.append(csv: values.joined(separator: ";"))
      }
    }
    out.append("\r\n")
  }

  /// Quoted once: the keys of a JSON line.
  private static let jsonKeys = csvColumns.map { "\"\($0)\":" }

  private mutating func writeJSONLine(_ record: ExportRecord, to out: inout ExportBytes) {
    rowsWritten += 1
    out.append(byte: UInt8(ascii: "{"))
    var first = true
    forEachField(record) { i, field in
      if case .none = field { return }
      if !first { out.append(byte: UInt8(ascii: ",")) }
      first = false
      out.append(Self.jsonKeys[i])
      switch field {
      case .none: break
      case .text(let text): out.append(json: text)
      case .time(let ms):
        out.append(byte: UInt8(ascii: "\""))
        out.append(iso8601: ms)
        out.append(byte: UInt8(ascii: "\""))
      case .number(let number): out.append(decimal: number)
      case .bool(let bool): out.append(bool ? "true" : "false")
      case .list(let values): out.append(jsonArray: values)
      }
    }
    out.append("}\n")
  }
}
