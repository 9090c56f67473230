import Analytics
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf
import TutorAPI
import TutorStore
import Tutoring

/// `tutor.v1.AnalyticsService`: learning records for teachers and researchers.
struct AnalyticsServiceHandler: Tutor_V1_AnalyticsService.SimpleServiceProtocol {
  let tutoring: TutoringService
  /// Pseudonym secret and home page of exports.
  let exports: ExportSettings
  let logger: Logger

  func exportSessions(
    request: Tutor_V1_ExportSessionsRequest,
    response: RPCWriter<Tutor_V1_ExportChunk>,
    context: ServerContext
  ) async throws {
    let format: ExportFormat
    switch request.format {
    case .csv: format = .csv
    case .jsonl: format = .jsonl
    case .xapi: format = .xapi
    case .datashop: format = .datashop
    case .unspecified, .UNRECOGNIZED:
      throw RPCError(code: .invalidArgument, message: "format must be CSV, JSONL, XAPI or DATASHOP")
    }
    var pseudonymizer: Pseudonymizer?
    if request.pseudonymize {
      guard let secret = exports.pseudonymSecret else {
        throw RPCError(
          code: .failedPrecondition,
          message: "this server has no pseudonym secret; start it with --pseudonym-secret-file"
        )
      }
      pseudonymizer = Pseudonymizer(secret: secret)
    }
    let filter = ExportFilter(
      since: request.hasSince ? request.since.date : nil,
      until: request.hasUntil ? request.until.date : nil,
      curriculumId: request.curriculumID.isEmpty ? nil : request.curriculumID,
      studentId: request.studentID.isEmpty ? nil : request.studentID
    )
    let chunks = try tutoring.export(
      by: try Principal.required(),
      filter: filter,
      format: format,
      includeText: !request.excludeText,
      pseudonymizer: pseudonymizer,
      homePage: exports.homePage
    )
    defer { chunks.cancel() }
    var first = true
    while let data = try await chunks.next() {
      try await response.write(
        .with {
          $0.data = data
          if first { $0.contentType = format.contentType }
        }
      )
      first = false
    }
  }

  func listFlaggedTurns(
    request: Tutor_V1_ListFlaggedTurnsRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_ListFlaggedTurnsResponse {
    if case .UNRECOGNIZED(let value) = request.minSeverity {
      throw RPCError(code: .invalidArgument, message: "min_severity \(value) is not a severity")
    }
    let filter = FlagFilter(
      since: request.hasSince ? request.since.date : nil,
      until: request.hasUntil ? request.until.date : nil,
      curriculumIds: request.curriculumID.isEmpty ? nil : [request.curriculumID],
      studentId: request.studentID.isEmpty ? nil : request.studentID,
      minimumSeverity: request.minSeverity.name,
      pageSize: Int(request.pageSize),
      pageToken: request.pageToken.isEmpty ? nil : request.pageToken
    )
    let page = try await tutoring.listFlaggedTurns(by: try Principal.required(), filter: filter)
    return .with {
      $0.turns = page.turns.map(Tutor_V1_FlaggedTurn.init)
      $0.nextPageToken = page.nextPageToken ?? ""
    }
  }

  func getStudentProgress(
    request: Tutor_V1_GetStudentProgressRequest,
    context: ServerContext
  ) async throws -> Tutor_V1_StudentProgress {
    try Principal.required().checkProgress(
      studentId: request.studentID,
      curriculumId: request.curriculumID.isEmpty ? nil : request.curriculumID
    )
    let progress = try await tutoring.progress(
      by: try Principal.required(),
      studentId: request.studentID,
      curriculumId: request.curriculumID
    )
    return .with {
      $0.studentID = request.studentID
      $0.curricula = progress.map { p in
        .with {
          $0.curriculumID = p.curriculumId
          $0.mastery = p.mastery.map(Tutor_V1_ObjectiveMastery.init)
          $0.lessonsCompleted = p.lessonsCompleted
          $0.attempts = Int32(p.attempts)
          $0.correctAttempts = Int32(p.correctAttempts)
          $0.hintsUsed = Int32(p.hintsUsed)
          $0.questionsAsked = Int32(p.questionsAsked)
          $0.timeSpent = .init(p.timeSpent)
          if let last = p.lastActiveAt { $0.lastActiveAt = .init(date: last) }
        }
      }
    }
  }
}

/// The server's export settings.
public struct ExportSettings: Sendable {
  /// The secret pseudonymised exports use (HMAC-SHA256 key).
  public var pseudonymSecret: String?
  /// The server's public home page: xAPI actors are accounts on it, activity ids live under it.
  public var homePage: String

  public init(pseudonymSecret: String? = nil, homePage: String = ExportOptions().homePage) {
    self.pseudonymSecret = pseudonymSecret
    self.homePage = homePage
  }
}
