import Crypto
import Foundation
import TutorStore

/// What a token lets its holder do. See ``Principal`` for the checks each role passes.
public enum Role: String, CaseIterable, Sendable, Codable {
  /// One student: their own sessions, questions, answers and progress.
  case student
  /// Reads sessions and progress in their curricula; validates and reloads curricula.
  case teacher
  /// Writes curricula: validates and reloads them, and tries prompts on the raw model.
  case author
  /// Exports learning records and reads progress, for research and reporting.
  case analyst
  /// Everything, including deleting a student's data.
  case admin
}

/// Everything the core does for a caller. ``allowedRoles`` is the one table of which roles may
/// do what; each operation of ``TutoringService`` takes the caller's ``Principal`` and checks it
/// here first, then the ownership rules of ``Principal`` (a student's own sessions, a teacher's
/// curricula). A new operation does not compile until someone decides who may call it.
///
/// | operation | student | teacher | author | analyst | admin |
/// |---|---|---|---|---|---|
/// | startSession, ask, submitAnswer, endSession | own | | | | ✓ |
/// | getSession, listSessions | own | their curricula | | | ✓ |
/// | listCurricula, getCurriculum, getLesson, searchSnippets, modelInfo | ✓ | ✓ | ✓ | ✓ | ✓ |
/// | validateCurriculum, reloadCurricula | | ✓ | ✓ | | ✓ |
/// | generate (raw model) | | | ✓ | | ✓ |
/// | exportSessions | | | | ✓ | ✓ |
/// | studentProgress | own | their curricula | | ✓ | ✓ |
/// | listFlaggedTurns | | their curricula | | ✓ | ✓ |
/// | deleteStudentData | | | | | ✓ |
public enum CoreOperation: String, CaseIterable, Sendable {
  case startSession, getSession, listSessions, ask, submitAnswer, endSession
  case listCurricula, getCurriculum, getLesson, searchSnippets, validateCurriculum, reloadCurricula
  case modelInfo, generate
  case exportSessions, studentProgress, listFlaggedTurns
  case deleteStudentData

  /// The roles that may ask for this operation at all.
  public var allowedRoles: Set<Role> {
    switch self {
    case .startSession, .ask, .submitAnswer, .endSession: [.student, .admin]
    case .getSession, .listSessions: [.student, .teacher, .admin]
    case .listCurricula, .getCurriculum, .getLesson, .searchSnippets, .modelInfo: Set(Role.allCases)
    case .validateCurriculum, .reloadCurricula: [.teacher, .author, .admin]
    case .generate: [.author, .admin]
    case .exportSessions: [.analyst, .admin]
    case .studentProgress: [.student, .teacher, .analyst, .admin]
    case .listFlaggedTurns: [.teacher, .analyst, .admin]
    case .deleteStudentData: [.admin]
    }
  }
}

/// Who is calling: the role and scope of the token a request came with.
public struct Principal: Sendable, Equatable {
  /// The token's id (never its secret): what logs name.
  public var tokenId: String
  public var role: Role
  /// The student a `student` token acts for.
  public var studentId: String?
  /// The curricula a `teacher` or `author` token covers; empty: all.
  public var curricula: Set<String>

  public init(tokenId: String, role: Role, studentId: String? = nil, curricula: Set<String> = []) {
    self.tokenId = tokenId
    self.role = role
    self.studentId = studentId
    self.curricula = curricula
  }

  /// The caller of the request being served, set by the server for the duration of each call.
  @TaskLocal public static var current: Principal?

  /// Every call of a server started with `--insecure-no-auth` (local demos only).
  public static let insecureNoAuth = Principal(tokenId: "insecure-no-auth", role: .admin)

  /// Whoever runs the `tutor` command line on the server's machine: they hold the database and
  /// the model files, so the core treats them as an admin.
  public static let localOperator = Principal(tokenId: "local-operator", role: .admin)

  /// Throws PERMISSION_DENIED unless the principal's role may ask for `operation` at all
  /// (``CoreOperation/allowedRoles``).
  public func authorize(_ operation: CoreOperation) throws {
    guard operation.allowedRoles.contains(role) else {
      throw TutoringError.permissionDenied("a \(role.rawValue) token may not \(operation.rawValue)")
    }
  }

  /// Whether the principal acts as `studentId` (a student for themself, or an admin).
  public func actsFor(studentId: String) -> Bool {
    role == .admin || (role == .student && self.studentId == studentId)
  }

  /// Whether a teacher's or author's scope (or an admin's, or an analyst's) includes `curriculumId`.
  public func covers(curriculumId: String) -> Bool {
    switch role {
    case .admin, .analyst: true
    case .teacher, .author: curricula.isEmpty || curricula.contains(curriculumId)
    case .student: false
    }
  }

  /// Throws PERMISSION_DENIED unless the principal may use (`write`) or see a session of
  /// `studentId` in `curriculumId`. Students reach only their own; teachers read sessions in
  /// their curricula; admins everything.
  public func checkSession(studentId: String, curriculumId: String, write: Bool) throws {
    if actsFor(studentId: studentId) { return }
    if !write, role == .teacher, covers(curriculumId: curriculumId) { return }
    throw TutoringError.permissionDenied(Self.notYours)
  }

  /// The one message for a session the caller may not reach, whether or not it exists: a student
  /// must not learn which session ids are someone else's.
  public static let notYours = "no such session among those this token may reach"

  /// Throws PERMISSION_DENIED unless the principal may read `studentId`'s progress (in
  /// `curriculumId`, when the request names one). Teachers must name a curriculum they cover,
  /// unless their token covers all.
  public func checkProgress(studentId: String, curriculumId: String?) throws {
    if actsFor(studentId: studentId) || role == .analyst { return }
    if role == .teacher {
      if let curriculumId, covers(curriculumId: curriculumId) { return }
      if curriculumId == nil, curricula.isEmpty { return }
      throw TutoringError.permissionDenied(
        "this teacher token covers \(curricula.sorted().joined(separator: ", ")); name one of them in curriculum_id"
      )
    }
    throw TutoringError.permissionDenied("a \(role.rawValue) token may read only its own student's progress")
  }
}

/// Issues and checks bearer tokens. A token is `tutor_<id>_<secret>`: the id (16 hex digits)
/// finds the stored record, the secret (32 random bytes, base64url) is checked against the
/// record's SHA-256 in constant time. The database holds only the hash, so a copy of it lets
/// nobody in; the secret's 256 bits make a slow hash unnecessary.
///
/// ```swift
/// let tokens = AccessTokens(store: store)
/// let (token, _) = try await tokens.create(role: .student, studentId: "s-17", label: "Ada's tablet")
/// let principal = try await tokens.authenticate(token)  // Principal(role: .student, studentId: "s-17")
/// ```
public struct AccessTokens: Sendable {
  let store: LearningRecordStore

  public init(store: LearningRecordStore) { self.store = store }

  /// Creates a token and returns it (shown this once; only its hash is kept) with its record.
  /// - Throws: ``TutoringError/invalidArgument(_:)`` when a student token has no student id, or
  ///   a student id or curricula are given to a role that has no use for them.
  public func create(
    role: Role,
    studentId: String? = nil,
    curricula: [String] = [],
    label: String = ""
  ) async throws -> (token: String, record: StoredToken) {
    switch role {
    case .student:
      guard let studentId, !studentId.isEmpty else {
        throw TutoringError.invalidArgument("a student token needs the student id it acts for (--student)")
      }
      guard curricula.isEmpty else {
        throw TutoringError.invalidArgument("a student token has no curricula; it reaches its own sessions")
      }
    case .teacher, .author:
      guard studentId == nil else {
        throw TutoringError.invalidArgument("only student tokens act for a student")
      }
    case .analyst, .admin:
      guard studentId == nil, curricula.isEmpty else {
        throw TutoringError.invalidArgument(
          "\(role.rawValue) tokens reach everything: no --student or --curriculum"
        )
      }
    }
    let id = Self.randomBytes(8).map { String(format: "%02x", $0) }.joined()
    let secret = Self.base64URL(Self.randomBytes(32))
    let record = StoredToken(
      id: id,
      secretSHA256: Data(SHA256.hash(data: Data(secret.utf8))),
      role: role.rawValue,
      studentId: studentId,
      curricula: curricula.sorted(),
      label: label,
      createdAtMs: Date().millisecondsSince1970
    )
    try await store.insertToken(record)
    return ("tutor_\(id)_\(secret)", record)
  }

  /// The principal a token stands for; nil when it is malformed, unknown or revoked.
  public func authenticate(_ token: String) async throws -> Principal? {
    guard token.hasPrefix("tutor_") else { return nil }
    let rest = token.utf8.dropFirst(6)
    guard rest.count > 17, rest[rest.index(rest.startIndex, offsetBy: 16)] == UInt8(ascii: "_") else {
      return nil
    }
    let id = String(decoding: rest.prefix(16), as: UTF8.self)
    let secret = Data(rest.dropFirst(17))
    guard id.utf8.allSatisfy(\.isHexDigit), let record = try await store.token(id: id),
      record.revokedAtMs == nil, let role = Role(rawValue: record.role)
    else { return nil }
    guard Self.constantTimeEqual(Data(SHA256.hash(data: secret)), record.secretSHA256) else { return nil }
    return Principal(tokenId: id, role: role, studentId: record.studentId, curricula: Set(record.curricula))
  }

  /// Compares every byte whatever the first difference, so timing tells nothing about the hash.
  static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) { difference |= x ^ y }
    return difference == 0
  }

  static func randomBytes(_ count: Int) -> [UInt8] {
    SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
  }

  static func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }
}

extension UInt8 {
  fileprivate var isHexDigit: Bool {
    (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(self)
      || (UInt8(ascii: "a") ... UInt8(ascii: "f")).contains(self)
  }
}
