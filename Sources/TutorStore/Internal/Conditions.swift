import GRDB

/// SQL conditions and their arguments, built up one at a time.
struct Conditions: Sendable {
  private var sql: [String] = []
  private(set) var arguments = StatementArguments()

  mutating func add(_ condition: String, _ value: some DatabaseValueConvertible) {
    sql.append(condition)
    arguments += [value]
  }

  var whereClause: String { sql.isEmpty ? "" : "WHERE " + sql.joined(separator: " AND ") }

  /// A WHERE clause with `extra` as well.
  func and(_ extra: String) -> String { "WHERE " + (sql + [extra]).joined(separator: " AND ") }
}
