/// One problem found in a curriculum's files, located as `file:line:column` so that editors and
/// terminals can jump to it.
public struct CurriculumDiagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
  public enum Severity: String, Sendable, Codable, Comparable {
    case warning
    case error

    public static func < (a: Severity, b: Severity) -> Bool { a == .warning && b == .error }
  }

  public var file: String
  /// 1-based; 0 when the problem concerns the whole file.
  public var line: Int
  /// 1-based, counted in Unicode scalars.
  public var column: Int
  public var severity: Severity
  public var message: String

  public init(file: String, line: Int, column: Int, severity: Severity, message: String) {
    self.file = file
    self.line = line
    self.column = column
    self.severity = severity
    self.message = message
  }

  /// `file:line:column: error: message`, the format compilers use.
  public var description: String {
    "\(file):\(max(line, 1)):\(max(column, 1)): \(severity.rawValue): \(message)"
  }
}

/// Collects diagnostics while a curriculum is read.
final class DiagnosticSink {
  private(set) var items: [CurriculumDiagnostic] = []

  var hasErrors: Bool { items.contains { $0.severity == .error } }

  func error(_ message: String, file: String, line: Int = 1, column: Int = 1) {
    items.append(.init(file: file, line: line, column: column, severity: .error, message: message))
  }

  func warning(_ message: String, file: String, line: Int = 1, column: Int = 1) {
    items.append(.init(file: file, line: line, column: column, severity: .warning, message: message))
  }

  func append(contentsOf other: DiagnosticSink) { items.append(contentsOf: other.items) }
}
