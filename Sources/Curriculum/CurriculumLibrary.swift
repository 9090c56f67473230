import Foundation

/// Every curriculum under a folder such as `curricula/`, loaded and validated.
///
/// A curriculum with errors is reported and skipped; the others are served.
///
/// ```swift
/// let library = CurriculumLibrary.load(root: "curricula")
/// for d in library.diagnostics { print(d) }        // curricula/x/lessons/y.md:3:5: error: ...
/// let lesson = library.curriculum("fractions")?.lesson("equivalent-fractions")
/// ```
public struct CurriculumLibrary: Sendable {
  /// Valid curricula, ordered by id.
  public var curricula: [Course]
  /// Every problem found, errors and warnings, in file order.
  public var diagnostics: [CurriculumDiagnostic]
  /// Folders that held a curriculum with errors, and so were not loaded.
  public var skipped: [String]

  public init(curricula: [Course], diagnostics: [CurriculumDiagnostic] = [], skipped: [String] = []) {
    self.curricula = curricula
    self.diagnostics = diagnostics
    self.skipped = skipped
  }

  public func curriculum(_ id: String) -> Course? { curricula.first { $0.id == id } }

  public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

  /// Loads every curriculum found at `paths`: a folder holding `curriculum.yaml`, a folder of such
  /// folders, or a file inside a curriculum (its curriculum is checked).
  public static func load(paths: [String], options: SnippetOptions = SnippetOptions()) -> CurriculumLibrary {
    var curricula: [Course] = []
    var diagnostics: [CurriculumDiagnostic] = []
    var skipped: [String] = []
    var seenIds: [String: String] = [:]
    for directory in curriculumDirectories(paths, diagnostics: &diagnostics) {
      let parser = CurriculumParser(directory: directory, options: options)
      let curriculum = parser.parse()
      diagnostics.append(contentsOf: parser.sink.items)
      guard var curriculum else {
        skipped.append(directory)
        continue
      }
      if let other = seenIds[curriculum.id] {
        diagnostics.append(
          .init(
            file: (directory as NSString).appendingPathComponent("curriculum.yaml"),
            line: 1,
            column: 1,
            severity: .error,
            message: "curriculum id '\(curriculum.id)' is also used by \(other)"
          )
        )
        skipped.append(directory)
        continue
      }
      seenIds[curriculum.id] = directory
      curriculum.directory = directory
      curricula.append(curriculum)
    }
    return CurriculumLibrary(
      curricula: curricula.sorted { $0.id < $1.id },
      diagnostics: diagnostics,
      skipped: skipped
    )
  }

  /// Loads every curriculum under `root`.
  public static func load(root: String, options: SnippetOptions = SnippetOptions()) -> CurriculumLibrary {
    load(paths: [root], options: options)
  }

  private static func curriculumDirectories(
    _ paths: [String],
    diagnostics: inout [CurriculumDiagnostic]
  ) -> [String] {
    let fm = FileManager.default
    var result: [String] = []
    func add(_ d: String) {
      let normalised = (d as NSString).standardizingPath
      if !result.contains(normalised) { result.append(normalised) }
    }
    for path in paths {
      var isDirectory: ObjCBool = false
      guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
        diagnostics.append(
          .init(file: path, line: 1, column: 1, severity: .error, message: "no such file or folder")
        )
        continue
      }
      if !isDirectory.boolValue {
        // A file: curriculum.yaml, a template, or lessons/<id>.md.
        var dir = (path as NSString).deletingLastPathComponent
        if (dir as NSString).lastPathComponent == "lessons" {
          dir = (dir as NSString).deletingLastPathComponent
        }
        add(dir.isEmpty ? "." : dir)
      } else if fm.fileExists(atPath: (path as NSString).appendingPathComponent("curriculum.yaml")) {
        add(path)
      } else {
        guard let entries = try? fm.contentsOfDirectory(atPath: path) else {
          diagnostics.append(
            .init(file: path, line: 1, column: 1, severity: .error, message: "folder cannot be read")
          )
          continue
        }
        var found = false
        for entry in entries.sorted() where !entry.hasPrefix(".") {
          let sub = (path as NSString).appendingPathComponent(entry)
          var subIsDir: ObjCBool = false
          guard fm.fileExists(atPath: sub, isDirectory: &subIsDir), subIsDir.boolValue else { continue }
          if fm.fileExists(atPath: (sub as NSString).appendingPathComponent("curriculum.yaml")) {
            add(sub)
            found = true
          } else {
            diagnostics.append(
              .init(
                file: sub,
                line: 1,
                column: 1,
                severity: .warning,
                message: "folder has no curriculum.yaml and is not a curriculum"
              )
            )
          }
        }
        if !found {
          diagnostics.append(
            .init(file: path, line: 1, column: 1, severity: .warning, message: "no curricula found here")
          )
        }
      }
    }
    return result
  }
}
