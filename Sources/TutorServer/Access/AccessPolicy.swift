import GRPCCore
import TutorAPI
import Tutoring

/// Which core operation each RPC is, so that the interceptor can refuse a role early with the
/// core's own table (``CoreOperation/allowedRoles``); the core checks again, with the ownership
/// rules, in the operation itself. An RPC missing here is refused to everyone but admins, so a
/// new RPC is closed until someone maps it.
enum AccessPolicy {
  static let operations: [MethodDescriptor: CoreOperation] = [
    Tutor_V1_TutorService.Method.StartSession.descriptor: .startSession,
    Tutor_V1_TutorService.Method.Ask.descriptor: .ask,
    Tutor_V1_TutorService.Method.SubmitAnswer.descriptor: .submitAnswer,
    Tutor_V1_TutorService.Method.EndSession.descriptor: .endSession,
    Tutor_V1_TutorService.Method.GetSession.descriptor: .getSession,
    Tutor_V1_TutorService.Method.ListSessions.descriptor: .listSessions,
    Tutor_V1_CurriculumService.Method.ListCurricula.descriptor: .listCurricula,
    Tutor_V1_CurriculumService.Method.GetCurriculum.descriptor: .getCurriculum,
    Tutor_V1_CurriculumService.Method.GetLesson.descriptor: .getLesson,
    Tutor_V1_CurriculumService.Method.SearchSnippets.descriptor: .searchSnippets,
    Tutor_V1_CurriculumService.Method.ValidateCurriculum.descriptor: .validateCurriculum,
    Tutor_V1_CurriculumService.Method.ReloadCurricula.descriptor: .reloadCurricula,
    Tutor_V1_ModelService.Method.GetModelInfo.descriptor: .modelInfo,
    Tutor_V1_ModelService.Method.Generate.descriptor: .generate,
    Tutor_V1_AnalyticsService.Method.ExportSessions.descriptor: .exportSessions,
    Tutor_V1_AnalyticsService.Method.GetStudentProgress.descriptor: .studentProgress,
    Tutor_V1_AnalyticsService.Method.ListFlaggedTurns.descriptor: .listFlaggedTurns,
    Tutor_V1_AdminService.Method.DeleteStudentData.descriptor: .deleteStudentData,
  ]

  /// Services anyone may call without a token (load balancers probe health).
  static let open: Set<ServiceDescriptor> = [Grpc_Health_V1_Health.descriptor]

  /// PERMISSION_DENIED unless `principal` may call `method` at all.
  static func authorize(_ principal: Principal, _ method: MethodDescriptor) throws {
    guard let operation = operations[method] else {
      guard principal.role == .admin else {
        throw TutoringError.permissionDenied(
          "a \(principal.role.rawValue) token may not call \(method.fullyQualifiedMethod)"
        )
      }
      return
    }
    try principal.authorize(operation)
  }
}

extension Principal {
  /// The caller of the current RPC. The interceptor sets it before any handler runs, so its
  /// absence is a server bug, reported as INTERNAL rather than letting the call through.
  static func required() throws -> Principal {
    guard let principal = Principal.current else {
      throw RPCError(code: .internalError, message: "no caller identity for this call")
    }
    return principal
  }
}
