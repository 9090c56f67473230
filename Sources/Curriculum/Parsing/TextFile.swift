import Foundation

/// Reads a curriculum file as UTF-8, reporting unreadable files and the position of the first
/// invalid byte.
enum TextFile {
  static func read(_ path: String, sink: DiagnosticSink) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else {
      sink.error("file cannot be read", file: path)
      return nil
    }
    if let text = String(data: data, encoding: .utf8) {
      return text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
    }
    var line = 1
    var column = 1
    var iterator = data.makeIterator()
    var decoder = UTF8()
    loop: while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar):
        if scalar == "\n" {
          line += 1
          column = 1
        } else {
          column += 1
        }
      case .emptyInput:
        break loop
      case .error:
        break loop
      }
    }
    sink.error(
      "file is not valid UTF-8 (first invalid byte here); save it as UTF-8",
      file: path,
      line: line,
      column: column
    )
    return nil
  }
}
