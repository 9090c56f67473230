import GRPCCore
import TutorAPI
import Tutoring

/// Which roles may call each RPC. The handlers then check ownership (a student's own sessions, a
/// teacher's curricula) with ``Principal``; a method missing here is refused to everyone but
/// admins, so a new RPC is closed until someone decides who may call it.
///
/// | RPC | student | teacher | author | analyst | admin |
/// |---|---|---|---|---|---|
/// | TutorService StartSession, Ask, SubmitAnswer, EndSession | own | | | | ✓ |
/// | TutorService GetSession, ListSessions | own | their curricula | | | ✓ |
/// | CurriculumService List/Get/GetLesson/SearchSnippets, ModelService GetModelInfo | ✓ | ✓ | ✓ | ✓ | ✓ |
/// | CurriculumService ValidateCurriculum, ReloadCurricula | | ✓ | ✓ | | ✓ |
/// | ModelService Generate | | | ✓ | | ✓ |
/// | AnalyticsService ExportSessions | | | | ✓ | ✓ |
/// | AnalyticsService GetStudentProgress | own | their curricula | | ✓ | ✓ |
/// | AdminService DeleteStudentData | | | | | ✓ |
/// | grpc.health.v1.Health | no token needed | | | | |
enum AccessPolicy {
  static let everyone = Set(Role.allCases)

  static let roles: [MethodDescriptor: Set<Role>] = [
    Tutor_V1_TutorService.Method.StartSession.descriptor: [.student, .admin],
    Tutor_V1_TutorService.Method.Ask.descriptor: [.student, .admin],
    Tutor_V1_TutorService.Method.SubmitAnswer.descriptor: [.student, .admin],
    Tutor_V1_TutorService.Method.EndSession.descriptor: [.student, .admin],
    Tutor_V1_TutorService.Method.GetSession.descriptor: [.student, .teacher, .admin],
    Tutor_V1_TutorService.Method.ListSessions.descriptor: [.student, .teacher, .admin],
    Tutor_V1_CurriculumService.Method.ListCurricula.descriptor: everyone,
    Tutor_V1_CurriculumService.Method.GetCurriculum.descriptor: everyone,
    Tutor_V1_CurriculumService.Method.GetLesson.descriptor: everyone,
    Tutor_V1_CurriculumService.Method.SearchSnippets.descriptor: everyone,
    Tutor_V1_CurriculumService.Method.ValidateCurriculum.descriptor: [.teacher, .author, .admin],
    Tutor_V1_CurriculumService.Method.ReloadCurricula.descriptor: [.teacher, .author, .admin],
    Tutor_V1_ModelService.Method.GetModelInfo.descriptor: everyone,
    Tutor_V1_ModelService.Method.Generate.descriptor: [.author, .admin],
    Tutor_V1_AnalyticsService.Method.ExportSessions.descriptor: [.analyst, .admin],
    Tutor_V1_AnalyticsService.Method.GetStudentProgress.descriptor: [.student, .teacher, .analyst, .admin],
    Tutor_V1_AdminService.Method.DeleteStudentData.descriptor: [.admin],
  ]

  /// Services anyone may call without a token (load balancers probe health).
  static let open: Set<ServiceDescriptor> = [Grpc_Health_V1_Health.descriptor]

  static func allows(_ role: Role, _ method: MethodDescriptor) -> Bool {
    role == .admin || roles[method]?.contains(role) == true
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
