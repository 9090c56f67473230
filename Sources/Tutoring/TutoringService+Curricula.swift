import Curriculum
import Foundation
import Logging

extension TutoringService {
  /// The curricula served, and the problems found loading them.
  public func curricula(
    by caller: Principal
  ) throws -> (curricula: [Course], diagnostics: [CurriculumDiagnostic]) {
    try caller.authorize(.listCurricula)
    let snapshot = catalog.snapshot
    return (snapshot.curricula, snapshot.diagnostics)
  }

  /// A served curriculum (NOT_FOUND names the ones there are).
  public func curriculum(by caller: Principal, id: String) throws -> Course {
    try caller.authorize(.getCurriculum)
    return try servedCurriculum(id)
  }

  func servedCurriculum(_ id: String) throws -> Course {
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
    by caller: Principal,
    curriculumId: String,
    lessonId: String
  ) throws -> (curriculum: Course, lesson: Lesson) {
    try caller.authorize(.getLesson)
    let curriculum = try servedCurriculum(curriculumId)
    guard !lessonId.isEmpty else { throw TutoringError.invalidArgument("lesson_id is empty") }
    guard let lesson = curriculum.lesson(lessonId) else {
      throw TutoringError.notFound("curriculum '\(curriculum.id)' has no lesson '\(lessonId)'")
    }
    return (curriculum, lesson)
  }

  /// Snippets for `query`, as answers retrieve them: in one curriculum (and favouring one of its
  /// lessons) or in all. `limit` 0 takes ``Limits/defaultSearchResults``.
  public func searchSnippets(
    by caller: Principal,
    _ rawQuery: String,
    curriculumId: String?,
    lessonId: String?,
    limit: Int
  ) async throws -> [SnippetHit] {
    try caller.authorize(.searchSnippets)
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
      let curriculum = try servedCurriculum(curriculumId)
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
  public func validateCurriculum(
    by caller: Principal,
    files: [(path: String, content: Data)]
  ) throws -> [CurriculumDiagnostic] {
    try caller.authorize(.validateCurriculum)
    return try CurriculumCatalog.validate(files: files)
  }

  /// Re-reads the curricula folder (see ``CurriculumCatalog/reload()``).
  public func reloadCurricula(by caller: Principal) async throws -> CurriculumCatalog.ReloadReport {
    try caller.authorize(.reloadCurricula)
    let report = catalog.reload()
    // Replicas sharing the record reload too, each from its own copy of the folder.
    do {
      try await store.announceReload()
    } catch {
      logger.error("cannot tell the other replicas to reload", metadata: ["error": "\(error)"])
    }
    logger.info(
      "curricula reloaded",
      metadata: [
        "reloaded": "\(report.reloaded)", "kept_previous": "\(report.keptPrevious)",
        "removed": "\(report.removed)", "token": "\(caller.tokenId)",
      ]
    )
    return report
  }
}
