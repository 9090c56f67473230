import Curriculum
import Foundation

extension TutoringService {
  /// The curricula served, and the problems found loading them.
  public func curricula() -> (curricula: [Curriculum], diagnostics: [CurriculumDiagnostic]) {
    let snapshot = catalog.snapshot
    return (snapshot.curricula, snapshot.diagnostics)
  }

  /// A served curriculum (NOT_FOUND names the ones there are).
  public func curriculum(id: String) throws -> Curriculum {
    guard !id.isEmpty else { throw TutoringError.invalidArgument("curriculum_id is empty") }
    let snapshot = catalog.snapshot
    guard let curriculum = snapshot.curriculum(id) else {
      throw TutoringError.notFound(
        "no curriculum '\(id)'; this server has " + snapshot.curricula.map(\.id).joined(separator: ", ")
      )
    }
    return curriculum
  }

  /// A lesson of a served curriculum.
  public func lesson(
    curriculumId: String,
    lessonId: String
  ) throws -> (curriculum: Curriculum, lesson: Lesson) {
    let curriculum = try curriculum(id: curriculumId)
    guard !lessonId.isEmpty else { throw TutoringError.invalidArgument("lesson_id is empty") }
    guard let lesson = curriculum.lesson(lessonId) else {
      throw TutoringError.notFound("curriculum '\(curriculum.id)' has no lesson '\(lessonId)'")
    }
    return (curriculum, lesson)
  }

  /// Snippets for `query`, as answers retrieve them: in one curriculum (and favouring one of its
  /// lessons) or in all. `limit` 0 takes ``Limits/defaultSearchResults``.
  public func searchSnippets(
    _ rawQuery: String,
    curriculumId: String?,
    lessonId: String?,
    limit: Int
  ) async throws -> [SnippetHit] {
    let query = rawQuery.trimmingCharacters(in: .whitespacesAndNewlines)
    let curriculumId = curriculumId.flatMap { $0.isEmpty ? nil : $0 }
    let lessonId = lessonId.flatMap { $0.isEmpty ? nil : $0 }
    guard !query.isEmpty else { throw TutoringError.invalidArgument("query is empty") }
    guard query.count <= limits.maxQuestionCharacters else {
      throw TutoringError.invalidArgument(
        "query is \(query.count) characters long; at most \(limits.maxQuestionCharacters) are accepted"
      )
    }
    guard (0 ... limits.maxSearchResults).contains(limit) else {
      throw TutoringError.invalidArgument(
        "limit must be between 1 and \(limits.maxSearchResults) (0 for the default \(limits.defaultSearchResults)), got \(limit)"
      )
    }
    if lessonId != nil, curriculumId == nil {
      throw TutoringError.invalidArgument("lesson_id needs curriculum_id")
    }
    if let curriculumId {
      let curriculum = try curriculum(id: curriculumId)
      if let lessonId, curriculum.lesson(lessonId) == nil {
        throw TutoringError.notFound("curriculum '\(curriculum.id)' has no lesson '\(lessonId)'")
      }
    }
    return await catalog.search(
      query,
      curriculum: curriculumId,
      lesson: lessonId,
      limit: limit == 0 ? limits.defaultSearchResults : limit
    )
  }

  /// Lints uploaded curriculum files as `tutor curriculum lint` does (nothing is stored).
  public func validateCurriculum(files: [(path: String, content: Data)]) throws -> [CurriculumDiagnostic] {
    try CurriculumCatalog.validate(files: files)
  }

  /// Re-reads the curricula folder (see ``CurriculumCatalog/reload()``).
  public func reloadCurricula() -> CurriculumCatalog.ReloadReport {
    catalog.reload()
  }
}
