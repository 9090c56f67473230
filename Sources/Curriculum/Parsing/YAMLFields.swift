import Foundation
import Yams

/// Where a YAML text sits in its file: front matter starts on the file's second line.
struct YAMLSource {
  let file: String
  /// Lines of the file before the YAML text.
  let lineOffset: Int

  func position(_ node: Node?) -> (line: Int, column: Int) {
    guard let mark = node?.mark else { return (lineOffset + 1, 1) }
    return (mark.line + lineOffset, mark.column)
  }

  /// Parses the YAML text; syntax errors become diagnostics at their position.
  func compose(_ text: String, sink: DiagnosticSink) -> Node? {
    do {
      return try Yams.compose(yaml: text)
    } catch let error as YamlError {
      switch error {
      case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
        .composer(let context, let problem, let mark, _):
        let detail = context.map { "\(problem) (\($0.text) at line \($0.mark.line + lineOffset))" } ?? problem
        sink.error(
          "YAML syntax error: \(detail)",
          file: file,
          line: mark.line + lineOffset,
          column: mark.column
        )
      case .duplicatedKeysInMapping(let duplicates, let context):
        sink.error(
          "duplicate key\(duplicates.count > 1 ? "s" : "") \(duplicates.map { "'\($0)'" }.joined(separator: ", "))",
          file: file,
          line: context.mark.line + lineOffset,
          column: context.mark.column
        )
      case .reader(let problem, _, _, _):
        sink.error("YAML cannot be read: \(problem)", file: file, line: lineOffset + 1)
      default:
        sink.error("YAML error: \(error)", file: file, line: lineOffset + 1)
      }
      return nil
    } catch {
      sink.error("YAML error: \(error)", file: file, line: lineOffset + 1)
      return nil
    }
  }
}

/// A YAML mapping read key by key, reporting wrong types, missing keys and unknown keys.
struct YAMLFields {
  let source: YAMLSource
  let node: Node
  let sink: DiagnosticSink
  private var pairs: [(key: String, keyNode: Node, value: Node)] = []

  /// `nil` (after reporting) when `node` is not a mapping.
  init?(_ node: Node, source: YAMLSource, sink: DiagnosticSink, what: String) {
    self.source = source
    self.node = node
    self.sink = sink
    guard case .mapping(let mapping) = node else {
      let p = source.position(node)
      sink.error(
        "\(what) must be a mapping of keys to values",
        file: source.file,
        line: p.line,
        column: p.column
      )
      return nil
    }
    for (k, v) in mapping {
      pairs.append((k.string ?? "\(k.any)", k, v))
    }
  }

  func error(_ message: String, at node: Node?) {
    let p = source.position(node ?? self.node)
    sink.error(message, file: source.file, line: p.line, column: p.column)
  }

  func warning(_ message: String, at node: Node?) {
    let p = source.position(node ?? self.node)
    sink.warning(message, file: source.file, line: p.line, column: p.column)
  }

  /// The keys in file order, with their nodes.
  var entries: [(String, Node)] { pairs.map { ($0.key, $0.keyNode) } }

  func value(_ key: String) -> Node? {
    pairs.first { $0.key == key }.map { $0.value }
  }

  func keyNode(_ key: String) -> Node? {
    pairs.first { $0.key == key }.map { $0.keyNode }
  }

  /// Reports keys outside `known`, with the nearest known key as a suggestion.
  func reportUnknownKeys(_ known: [String], in what: String) {
    for pair in pairs where !known.contains(pair.key) {
      warning("unknown key '\(pair.key)' in \(what)\(didYouMean(pair.key, among: known))", at: pair.keyNode)
    }
  }

  /// A scalar as text; reports a missing required key or a non-scalar value.
  func string(_ key: String, required: Bool = false, in what: String) -> String? {
    guard let v = value(key) else {
      if required { error("\(what) is missing required key '\(key)'", at: nil) }
      return nil
    }
    guard case .scalar(let scalar) = v else {
      error("'\(key)' must be text", at: v)
      return nil
    }
    if required, scalar.string.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
      error("'\(key)' must not be empty", at: v)
      return nil
    }
    return scalar.string
  }

  func double(_ key: String, in range: ClosedRange<Double>? = nil) -> Double? {
    guard let v = value(key) else { return nil }
    guard let d = v.float ?? v.int.map(Double.init) else {
      error("'\(key)' must be a number", at: v)
      return nil
    }
    if let range, !range.contains(d) {
      error("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(d)", at: v)
      return nil
    }
    return d
  }

  func int(_ key: String, in range: ClosedRange<Int>? = nil) -> Int? {
    guard let v = value(key) else { return nil }
    guard let i = v.int else {
      error("'\(key)' must be a whole number", at: v)
      return nil
    }
    if let range, !range.contains(i) {
      error("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(i)", at: v)
      return nil
    }
    return i
  }

  func bool(_ key: String) -> Bool? {
    guard let v = value(key) else { return nil }
    guard let b = v.bool else {
      error("'\(key)' must be true or false", at: v)
      return nil
    }
    return b
  }

  /// A list of scalars (a single scalar is accepted as a one-element list), each with its node.
  func strings(_ key: String) -> [(String, Node)] {
    guard let v = value(key) else { return [] }
    switch v {
    case .scalar(let s):
      return [(s.string, v)]
    case .sequence(let seq):
      var out: [(String, Node)] = []
      for item in seq {
        if case .scalar(let s) = item {
          out.append((s.string, item))
        } else {
          error("every entry of '\(key)' must be text", at: item)
        }
      }
      return out
    default:
      error("'\(key)' must be a list", at: v)
      return []
    }
  }

  /// A list of mappings.
  func mappings(_ key: String, what: String) -> [YAMLFields] {
    guard let v = value(key) else { return [] }
    guard case .sequence(let seq) = v else {
      error("'\(key)' must be a list", at: v)
      return []
    }
    return seq.compactMap { YAMLFields($0, source: source, sink: sink, what: what) }
  }
}
