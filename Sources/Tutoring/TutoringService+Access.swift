import TutorStore

extension TutoringService {
  /// The session `id`, when `principal` may see it (`write` false) or use it (`write` true).
  ///
  /// A caller that may reach only some sessions gets the same PERMISSION_DENIED for a session
  /// that is someone else's and for one that doesn't exist, so session ids reveal nothing; an
  /// admin gets NOT_FOUND for a missing one.
  func authorizedSession(_ id: String, caller principal: Principal, write: Bool) async throws -> StoredSession
  {
    guard !id.isEmpty else { throw TutoringError.invalidArgument("session_id is required") }
    try checkIdentifier(id, field: "session_id")
    guard let session = try await store.session(id: id) else {
      if principal.role == .admin { throw TutoringError.notFound("no session '\(id)'") }
      throw TutoringError.permissionDenied(Principal.notYours)
    }
    try principal.checkSession(studentId: session.studentId, curriculumId: session.curriculumId, write: write)
    return session
  }

  /// The student and curriculum filters `principal` may list sessions with: a student lists
  /// only their own (an empty student filter means them); a teacher whose token covers some
  /// curricula must name one of them.
  func sessionFilter(
    studentId: String,
    curriculumId: String,
    for principal: Principal
  ) throws -> (studentId: String, curriculumId: String) {
    switch principal.role {
    case .admin:
      return (studentId, curriculumId)
    case .student:
      let own = principal.studentId ?? ""
      guard studentId.isEmpty || studentId == own else {
        throw TutoringError.permissionDenied("a student token lists only its own student's sessions")
      }
      return (own, curriculumId)
    case .teacher:
      if principal.curricula.isEmpty
        || (!curriculumId.isEmpty && principal.covers(curriculumId: curriculumId))
      {
        return (studentId, curriculumId)
      }
      throw TutoringError.permissionDenied(
        "this teacher token covers \(principal.curricula.sorted().joined(separator: ", ")); "
          + "name one of them in curriculum_id"
      )
    case .author, .analyst:
      throw TutoringError.permissionDenied("a \(principal.role.rawValue) token may not list sessions")
    }
  }
}
