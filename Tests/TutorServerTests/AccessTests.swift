import Curriculum
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Testing
import TutorAPI
import TutorServer
import TutorStore
import TutorTestSupport

@testable import Tutoring

/// Every RPC × every role, on a server that checks bearer tokens.
@Suite("Access control: tokens, roles and ownership", .serialized)
struct AccessTests {
  /// The callers of the matrix: a token per role, two students, and a teacher limited to one
  /// curriculum.
  enum Caller: String, CaseIterable, Sendable {
    case ada, bo, teacher, fractionsTeacher, author, analyst, admin
  }

  struct Fixture {
    var tokens: [Caller: String] = [:]
    var adaSession = ""
    var exerciseId = ""
    var lessonId = ""

    func metadata(_ caller: Caller) -> Metadata { ["authorization": "Bearer \(tokens[caller]!)"] }
  }

  static func fixture(_ server: TestServer) async throws -> Fixture {
    let tokens = AccessTokens(store: server.server.tutoring.store)
    var fixture = Fixture()
    let roles: [Caller: (Role, String?, [String])] = [
      .ada: (.student, "ada", []), .bo: (.student, "bo", []), .teacher: (.teacher, nil, []),
      .fractionsTeacher: (.teacher, nil, ["fractions-ratios"]), .author: (.author, nil, []),
      .analyst: (.analyst, nil, []), .admin: (.admin, nil, []),
    ]
    for (caller, (role, student, curricula)) in roles {
      fixture.tokens[caller] = try await tokens.create(role: role, studentId: student, curricula: curricula)
        .token
    }
    let lesson = try #require(
      CurriculumLibrary.load(root: Repository.curricula).curriculum("photosynthesis")?.lessons.first {
        !$0.exercises.isEmpty
      }
    )
    fixture.lessonId = lesson.id
    fixture.exerciseId = lesson.exercises[0].id
    fixture.adaSession = try await server.server.tutoring.startSession(
      by: .localOperator,
      studentId: "ada",
      curriculumId: "photosynthesis",
      lessonId: lesson.id
    ).id
    return fixture
  }

  /// A server that checks tokens, for the length of `body`.
  static func withSecuredServer(_ body: (TestServer) async throws -> Void) async throws {
    try await withTestServer(configure: { $0.authentication = .tokens }, body: body)
  }

  /// The status a call ended with (`.ok` when it succeeded).
  static func status(_ call: () async throws -> Void) async -> RPCError.Code? {
    do {
      try await call()
      return nil
    } catch let error as RPCError {
      return error.code
    } catch {
      Issue.record("not an RPCError: \(error)")
      return .unknown
    }
  }

  /// The generated clients of every service, and the store for setting up calls.
  struct Clients {
    let tutor: Tutor_V1_TutorService.Client<HTTP2ClientTransport.Posix>
    let curriculum: Tutor_V1_CurriculumService.Client<HTTP2ClientTransport.Posix>
    let model: Tutor_V1_ModelService.Client<HTTP2ClientTransport.Posix>
    let analytics: Tutor_V1_AnalyticsService.Client<HTTP2ClientTransport.Posix>
    let admin: Tutor_V1_AdminService.Client<HTTP2ClientTransport.Posix>
    let store: LearningRecordStore

    init(_ client: GRPCClient<HTTP2ClientTransport.Posix>, store: LearningRecordStore) {
      tutor = .init(wrapping: client)
      curriculum = .init(wrapping: client)
      model = .init(wrapping: client)
      analytics = .init(wrapping: client)
      admin = .init(wrapping: client)
      self.store = store
    }
  }

  /// Every RPC of every `tutor.v1` service, who may call it (written out here, apart from the
  /// core's table), and one valid call of it.
  enum RPC: String, CaseIterable, Sendable {
    case StartSession, GetSession, ListSessions, Ask, SubmitAnswer, EndSession
    case ListCurricula, GetCurriculum, GetLesson, SearchSnippets, ValidateCurriculum, ReloadCurricula
    case GetModelInfo, Generate, ExportSessions, GetStudentProgress, ListFlaggedTurns, DeleteStudentData

    var allowed: Set<Caller> {
      switch self {
      case .StartSession, .Ask, .SubmitAnswer, .EndSession: [.ada, .admin]
      case .GetSession, .ListSessions: [.ada, .teacher, .admin]
      case .ListCurricula, .GetCurriculum, .GetLesson, .SearchSnippets, .GetModelInfo: Set(Caller.allCases)
      case .ValidateCurriculum, .ReloadCurricula: [.teacher, .fractionsTeacher, .author, .admin]
      case .Generate: [.author, .admin]
      case .ExportSessions: [.analyst, .admin]
      case .GetStudentProgress: [.ada, .teacher, .analyst, .admin]
      case .ListFlaggedTurns: [.teacher, .fractionsTeacher, .analyst, .admin]
      case .DeleteStudentData: [.admin]
      }
    }

    func call(_ c: Clients, _ f: Fixture, _ m: Metadata) async throws {
      switch self {
      case .StartSession:
        _ = try await c.tutor.startSession(
          .with {
            $0.studentID = "ada"
            $0.curriculumID = "photosynthesis"
          },
          metadata: m
        )
      case .GetSession:
        _ = try await c.tutor.getSession(.with { $0.sessionID = f.adaSession }, metadata: m)
      case .ListSessions:
        _ = try await c.tutor.listSessions(.with { $0.studentID = "ada" }, metadata: m)
      case .Ask:
        try await c.tutor.ask(
          .with {
            $0.sessionID = f.adaSession
            $0.question = "Why are leaves green?"
            $0.options.maxNewTokens = 2
          },
          metadata: m
        ) { response in for try await _ in response.messages {} }
      case .SubmitAnswer:
        _ = try await c.tutor.submitAnswer(
          .with {
            $0.sessionID = f.adaSession
            $0.exerciseID = f.exerciseId
            $0.answer = "x"
          },
          metadata: m
        )
      case .EndSession:
        // A fresh session each time, so one caller's end doesn't change the next one's result.
        let session = try await c.store.startSession(
          studentId: "ada",
          curriculumId: "photosynthesis",
          lessonId: f.lessonId
        )
        _ = try await c.tutor.endSession(.with { $0.sessionID = session.id }, metadata: m)
      case .ListCurricula:
        _ = try await c.curriculum.listCurricula(.init(), metadata: m)
      case .GetCurriculum:
        _ = try await c.curriculum.getCurriculum(.with { $0.curriculumID = "photosynthesis" }, metadata: m)
      case .GetLesson:
        _ = try await c.curriculum.getLesson(
          .with {
            $0.curriculumID = "photosynthesis"
            $0.lessonID = f.lessonId
          },
          metadata: m
        )
      case .SearchSnippets:
        _ = try await c.curriculum.searchSnippets(.with { $0.query = "chlorophyll" }, metadata: m)
      case .ValidateCurriculum:
        _ = try await c.curriculum.validateCurriculum(.init(), metadata: m)
      case .ReloadCurricula:
        _ = try await c.curriculum.reloadCurricula(.init(), metadata: m)
      case .GetModelInfo:
        _ = try await c.model.getModelInfo(.init(), metadata: m)
      case .Generate:
        try await c.model.generate(
          .with {
            $0.prompt = "Plants"
            $0.options.maxNewTokens = 2
          },
          metadata: m
        ) { response in for try await _ in response.messages {} }
      case .ExportSessions:
        try await c.analytics.exportSessions(.with { $0.format = .csv }, metadata: m) { response in
          for try await _ in response.messages {}
        }
      case .GetStudentProgress:
        _ = try await c.analytics.getStudentProgress(.with { $0.studentID = "ada" }, metadata: m)
      case .ListFlaggedTurns:
        _ = try await c.analytics.listFlaggedTurns(.with { $0.minSeverity = .high }, metadata: m)
      case .DeleteStudentData:
        _ = try await c.store.startSession(
          studentId: "zed",
          curriculumId: "photosynthesis",
          lessonId: f.lessonId
        )
        _ = try await c.admin.deleteStudentData(.with { $0.studentID = "zed" }, metadata: m)
      }
    }
  }

  @Test("Every RPC of every tutor.v1 service is in the matrix, so a new one can't go untested")
  func theMatrixCoversEveryRPC() {
    let methods =
      Tutor_V1_TutorService.Method.descriptors + Tutor_V1_CurriculumService.Method.descriptors
      + Tutor_V1_ModelService.Method.descriptors + Tutor_V1_AnalyticsService.Method.descriptors
      + Tutor_V1_AdminService.Method.descriptors
    #expect(Set(RPC.allCases.map(\.rawValue)) == Set(methods.map(\.method)))
    #expect(RPC.allCases.count == methods.count)
  }

  @Test(
    "Each RPC checks the caller's role and what it owns; no token or a forged one is UNAUTHENTICATED",
    arguments: RPC.allCases
  )
  func everyRoleCalls(_ rpc: RPC) async throws {
    try await Self.withSecuredServer { server in
      let f = try await Self.fixture(server)
      try await server.withClient { client in
        let clients = Clients(client, store: server.server.tutoring.store)
        for caller in Caller.allCases {
          let code = await Self.status { try await rpc.call(clients, f, f.metadata(caller)) }
          if rpc.allowed.contains(caller) {
            #expect(
              code != .permissionDenied && code != .unauthenticated,
              "as \(caller): \(String(describing: code))"
            )
          } else {
            #expect(code == .permissionDenied, "as \(caller): \(String(describing: code))")
          }
        }
        // No token, a made-up one: UNAUTHENTICATED, before anything else is looked at.
        #expect(
          await Self.status { try await rpc.call(clients, f, [:]) } == .unauthenticated,
          "without a token"
        )
        #expect(
          await Self.status {
            try await rpc.call(clients, f, ["authorization": "Bearer tutor_0123456789abcdef_forged"])
          } == .unauthenticated,
          "with a forged token"
        )
      }
    }
  }

  @Test("Health needs no token (load balancers probe it)")
  func healthIsOpen() async throws {
    try await Self.withSecuredServer { server in
      try await server.withClient { client in
        let checked = try await Grpc_Health_V1_Health.Client(wrapping: client).check(.init())
        #expect(checked.status == .serving)
      }
    }
  }

  @Test("Students see only their own: the same refusal for someone else's session and a missing one")
  func studentsSeeOnlyTheirOwn() async throws {
    try await Self.withSecuredServer { server in
      let f = try await Self.fixture(server)
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        func message(_ caller: Caller, _ session: String) async -> String? {
          do {
            _ = try await tutor.getSession(.with { $0.sessionID = session }, metadata: f.metadata(caller))
            return nil
          } catch let error as RPCError {
            return "\(error.code): \(error.message)"
          } catch { return "\(error)" }
        }
        let others = await message(.bo, f.adaSession)
        let missing = await message(.bo, "no-such-session")
        #expect(others == missing && others?.hasPrefix("permissionDenied") == true)
        // An admin may know that it doesn't exist.
        #expect(await message(.admin, "no-such-session")?.hasPrefix("notFound") == true)
        // A student token starts sessions for its own student, with or without naming it.
        let own = try await tutor.startSession(
          .with { $0.curriculumID = "photosynthesis" },
          metadata: f.metadata(.bo)
        )
        #expect(own.studentID == "bo")
        let listed = try await tutor.listSessions(.init(), metadata: f.metadata(.bo))
        #expect(listed.sessions.map(\.sessionID) == [own.sessionID])
        // A teacher limited to fractions-ratios reaches photosynthesis sessions only by naming its own curriculum.
        #expect(await message(.fractionsTeacher, f.adaSession)?.hasPrefix("permissionDenied") == true)
        let fractions = try await tutor.listSessions(
          .with { $0.curriculumID = "fractions-ratios" },
          metadata: f.metadata(.fractionsTeacher)
        )
        #expect(fractions.sessions.isEmpty)
      }
    }
  }

  @Test("A revoked token stops working at the next call; deleting a student removes their data and tokens")
  func revocationAndDeletion() async throws {
    try await Self.withSecuredServer { server in
      let f = try await Self.fixture(server)
      let store = server.server.tutoring.store
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let admin = Tutor_V1_AdminService.Client(wrapping: client)
        _ = try await tutor.getSession(.with { $0.sessionID = f.adaSession }, metadata: f.metadata(.ada))
        let bo = try await store.tokens().first { $0.studentId == "bo" }
        #expect(try await store.revokeToken(id: bo!.id))
        await #expect(throws: RPCError.self) {
          _ = try await tutor.listSessions(.init(), metadata: f.metadata(.bo))
        }
        _ = try await tutor.submitAnswer(
          .with {
            $0.sessionID = f.adaSession
            $0.exerciseID = f.exerciseId
            $0.answer = "x"
          },
          metadata: f.metadata(.ada)
        )
        let report = try await admin.deleteStudentData(
          .with { $0.studentID = "ada" },
          metadata: f.metadata(.admin)
        )
        #expect(
          report.sessions == 1 && report.attempts == 1 && report.tokens == 1 && report.masteryRecords >= 1
        )
        #expect(try await store.session(id: f.adaSession) == nil)
        // Ada's token went with her data.
        let code = await Self.status {
          _ = try await tutor.listSessions(.init(), metadata: f.metadata(.ada))
        }
        #expect(code == .unauthenticated)
        let again = await Self.status {
          _ = try await admin.deleteStudentData(.with { $0.studentID = "ada" }, metadata: f.metadata(.admin))
        }
        #expect(again == .notFound)
      }
    }
  }

  @Test("Tokens: only a hash is stored, malformed ones are refused, bad role options are errors")
  func tokensAreHashedAndChecked() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tokens-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try LearningRecordStore(path: directory.appendingPathComponent("t.sqlite").path)
    let tokens = AccessTokens(store: store)
    let (token, record) = try await tokens.create(role: .teacher, curricula: ["b", "a"], label: "Ms Lee")
    #expect(token.hasPrefix("tutor_\(record.id)_") && token.count > 50)
    #expect(record.secretSHA256.count == 32 && record.curricula == ["a", "b"])
    let raw =
      try Data(contentsOf: directory.appendingPathComponent("t.sqlite"))
      + ((try? Data(contentsOf: directory.appendingPathComponent("t.sqlite-wal"))) ?? Data())
    let secret = String(token.dropFirst(6 + 16 + 1))
    #expect(raw.range(of: Data(secret.utf8)) == nil, "the secret must not be stored")
    let principal = try await tokens.authenticate(token)
    #expect(principal == Principal(tokenId: record.id, role: .teacher, curricula: ["a", "b"]))
    var flipped = Array(token)
    flipped[flipped.count - 1] = flipped.last == "A" ? "B" : "A"
    for bad in [
      "", "tutor_", String(flipped), token + "x", "Bearer " + token,
      token.replacingOccurrences(of: "tutor_", with: "tutr_"),
    ] {
      #expect(try await tokens.authenticate(bad) == nil, "\(bad)")
    }
    await #expect(throws: TutoringError.self) { _ = try await tokens.create(role: .student) }
    await #expect(throws: TutoringError.self) { _ = try await tokens.create(role: .admin, studentId: "x") }
    await #expect(throws: TutoringError.self) {
      _ = try await tokens.create(role: .analyst, curricula: ["a"])
    }
  }
}

extension AccessTests {
  @Test("Each caller has its own rate limit; past it, RESOURCE_EXHAUSTED with a retry hint")
  func rateLimitPerCaller() async throws {
    try await withTestServer {
      $0.authentication = .tokens
      $0.rateLimit = (perSecond: 0.5, burst: 3)
    } body: { server in
      let f = try await Self.fixture(server)
      try await server.withClient { client in
        let curriculum = Tutor_V1_CurriculumService.Client(wrapping: client)
        for _ in 0 ..< 3 { _ = try await curriculum.listCurricula(.init(), metadata: f.metadata(.ada)) }
        do {
          _ = try await curriculum.listCurricula(.init(), metadata: f.metadata(.ada))
          Issue.record("the fourth call in a row was not limited")
        } catch let error as RPCError {
          #expect(error.code == .resourceExhausted && error.message.contains("rate limit"))
          let pushback = Array(error.metadata[stringValues: "grpc-retry-pushback-ms"]).first.flatMap {
            Int($0)
          }
          #expect(pushback.map { (1 ... 2000).contains($0) } == true, "\(error.metadata)")
        }
        // Bo isn't held back by Ada.
        _ = try await curriculum.listCurricula(.init(), metadata: f.metadata(.bo))
      }
    }
  }
}
