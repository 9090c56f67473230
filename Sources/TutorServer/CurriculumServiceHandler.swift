import Foundation
import GRPCCore
import Logging
import SwiftProtobuf
import TutorAPI
import Tutoring

/// `tutor.v1.CurriculumService`: browsing, snippet search, validation and reloading.
struct CurriculumServiceHandler: Tutor_V1_CurriculumService.SimpleServiceProtocol {
  let tutoring: TutoringService
  let logger: Logger

  func listCurricula(
    request: Tutor_V1_ListCurriculaRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_ListCurriculaResponse {
    let served = try tutoring.curricula(by: try Principal.required())
    return .with {
      $0.curricula = served.curricula.map(Tutor_V1_CurriculumSummary.init)
      $0.diagnostics = served.diagnostics.map(Tutor_V1_Diagnostic.init)
    }
  }

  func getCurriculum(
    request: Tutor_V1_GetCurriculumRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_Curriculum {
    let curriculum = try tutoring.curriculum(by: try Principal.required(), id: request.curriculumID)
    return .with {
      $0.summary = .init(curriculum)
      $0.lessons = curriculum.lessons.map(Tutor_V1_LessonSummary.init)
    }
  }

  func getLesson(request: Tutor_V1_GetLessonRequest, context: ServerContext) async throws -> Tutor_V1_Lesson {
    let (curriculum, lesson) = try tutoring.lesson(
      by: try Principal.required(),
      curriculumId: request.curriculumID,
      lessonId: request.lessonID
    )
    return .with {
      $0.curriculumID = curriculum.id
      $0.summary = .init(lesson)
      $0.bodyMarkdown = lesson.body
      $0.exercises = lesson.exercises.map(Tutor_V1_Exercise.init)
      $0.snippets = lesson.snippets.map { s in
        .with {
          $0.snippetID = s.id
          $0.heading = s.heading
          $0.text = s.text
        }
      }
    }
  }

  func searchSnippets(
    request: Tutor_V1_SearchSnippetsRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_SearchSnippetsResponse {
    let hits = try await tutoring.searchSnippets(
      by: try Principal.required(),
      request.query,
      curriculumId: request.curriculumID,
      lessonId: request.lessonID,
      limit: Int(request.limit)
    )
    return .with {
      $0.hits = hits.map { h in
        .with {
          $0.snippetID = h.id
          $0.score = h.score
          $0.curriculumID = h.curriculumId
          $0.lessonID = h.lessonId
          $0.heading = h.heading
          $0.text = h.text
        }
      }
    }
  }

  func validateCurriculum(
    request: Tutor_V1_ValidateCurriculumRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_ValidateCurriculumResponse {
    let diagnostics = try tutoring.validateCurriculum(
      by: try Principal.required(),
      files: request.files.map { ($0.path, $0.content) }
    )
    return .with {
      $0.valid = !diagnostics.contains { $0.severity == .error }
      $0.diagnostics = diagnostics.map(Tutor_V1_Diagnostic.init)
    }
  }

  func reloadCurricula(
    request: Tutor_V1_ReloadCurriculaRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_ReloadCurriculaResponse {
    let report = try await tutoring.reloadCurricula(by: try Principal.required())
    return .with {
      $0.reloaded = report.reloaded
      $0.keptPrevious = report.keptPrevious
      $0.removed = report.removed
      $0.diagnostics = report.diagnostics.map(Tutor_V1_Diagnostic.init)
    }
  }
}
