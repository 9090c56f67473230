import Foundation

// What the two engines share for reading: queries written once in the SQL that SQLite and
// PostgreSQL both accept (`?` placeholders, which the PostgreSQL engine numbers), their
// arguments, and rows read by position.

/// A value bound to a query.
enum SQLValue: Sendable, Hashable {
  case null
  case integer(Int64)
  case real(Double)
  case text(String)
  case blob(Data)
}

/// SQL conditions and their arguments, built up one at a time.
struct Conditions: Sendable {
  private var sql: [String] = []
  private(set) var arguments: [SQLValue] = []

  mutating func add(_ condition: String, _ value: Int64) {
    sql.append(condition)
    arguments.append(.integer(value))
  }

  mutating func add(_ condition: String, _ value: String) {
    sql.append(condition)
    arguments.append(.text(value))
  }

  /// `column IN (?, ?, …)` over `values`; an empty list selects nothing.
  mutating func add(_ column: String, in values: [String]) {
    guard !values.isEmpty else {
      sql.append("1 = 0")
      return
    }
    sql.append("\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ", ")))")
    arguments += values.map(SQLValue.text)
  }

  mutating func add(_ condition: String, _ values: [SQLValue]) {
    sql.append(condition)
    arguments += values
  }

  /// A condition with no arguments.
  mutating func add(_ condition: String) { sql.append(condition) }

  var whereClause: String { sql.isEmpty ? "" : "WHERE " + sql.joined(separator: " AND ") }

  /// A WHERE clause with `extra` as well.
  func and(_ extra: String) -> String { "WHERE " + (sql + [extra]).joined(separator: " AND ") }
}

/// A result row read by column position. A value of the wrong type, or NULL where none is
/// expected, is an error (the schema makes either a bug).
protocol SQLRow {
  func integer(_ column: Int) throws -> Int64?
  func text(_ column: Int) throws -> String?
  func real(_ column: Int) throws -> Double?
  func blob(_ column: Int) throws -> Data?
}

extension SQLRow {
  func int(_ column: Int) throws -> Int { Int(try int64(column)) }
  func int64(_ column: Int) throws -> Int64 {
    guard let value = try integer(column) else { throw SQLRowError.null(column: column) }
    return value
  }
  func optionalInt(_ column: Int) throws -> Int? { try integer(column).map { Int($0) } }
  func string(_ column: Int) throws -> String {
    guard let value = try text(column) else { throw SQLRowError.null(column: column) }
    return value
  }
  func double(_ column: Int) throws -> Double {
    guard let value = try real(column) else { throw SQLRowError.null(column: column) }
    return value
  }
  func bool(_ column: Int) throws -> Bool { try int64(column) != 0 }
}

enum SQLRowError: Error, CustomStringConvertible {
  case null(column: Int)
  var description: String {
    switch self {
    case .null(let column): "the database returned NULL in result column \(column)"
    }
  }
}

/// Read queries inside one snapshot of the database, run from a thread that may block (a
/// database's reads do).
protocol SQLReader {
  associatedtype Row: SQLRow
  /// Every row of a query (for results known to be small).
  func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [Row]
  /// The rows of a query one at a time, from a cursor: memory stays flat.
  func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (Row) throws -> Void) throws
}

extension SQLReader {
  func row(_ sql: String, _ arguments: [SQLValue]) throws -> Row? { try rows(sql, arguments).first }
  func int(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
    try row(sql, arguments).map { try $0.int(0) } ?? 0
  }
}
