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
  enum Caller: String, CaseIterable {
    case ada, bo, teacher, fractionsTeacher, author, analyst, admin
  }

  /// What a call should meet: the access checks let it through (it may still fail for other
  /// reasons, which the other suites test), or PERMISSION_DENIED.
  enum Expect { case allowed, denied }

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

  @Test("Every RPC checks the caller's role and what it owns")
  func everyRPCByEveryRole() async throws {
    try await Self.withSecuredServer { server in
      let f = try await Self.fixture(server)
      try await server.withClient { client in
        let tutor = Tutor_V1_TutorService.Client(wrapping: client)
        let curriculum = Tutor_V1_CurriculumService.Client(wrapping: client)
        let model = Tutor_V1_ModelService.Client(wrapping: client)
        let analytics = Tutor_V1_AnalyticsService.Client(wrapping: client)
        let admin = Tutor_V1_AdminService.Client(wrapping: client)
        let store = server.server.tutoring.store
        typealias Call = @Sendable (Metadata) async throws -> Void
        let all = Set(Caller.allCases)
        let rpcs: [(String, Set<Caller>, Call)] = [
          (
            "StartSession", [.ada, .admin],
            { m in
              _ = try await tutor.startSession(
                .with {
                  $0.studentID = "ada"
                  $0.curriculumID = "photosynthesis"
                },
                metadata: m
              )
            }
          ),
          (
            "GetSession", [.ada, .teacher, .admin],
            { m in _ = try await tutor.getSession(.with { $0.sessionID = f.adaSession }, metadata: m) }
          ),
          (
            "ListSessions", [.ada, .teacher, .admin],
            { m in _ = try await tutor.listSessions(.with { $0.studentID = "ada" }, metadata: m) }
          ),
          (
            "Ask", [.ada, .admin],
            { m in
              try await tutor.ask(
                .with {
                  $0.sessionID = f.adaSession
                  $0.question = "Why are leaves green?"
                  $0.options.maxNewTokens = 2
                },
                metadata: m
              ) { response in for try await _ in response.messages {} }
            }
          ),
          (
            "SubmitAnswer", [.ada, .admin],
            { m in
              _ = try await tutor.submitAnswer(
                .with {
                  $0.sessionID = f.adaSession
                  $0.exerciseID = f.exerciseId
                  $0.answer = "x"
                },
                metadata: m
              )
            }
          ),
          (
            "EndSession", [.ada, .admin],
            { m in
              // A fresh session each time, so one caller's end doesn't change the next one's result.
              let session = try await store.startSession(
                studentId: "ada",
                curriculumId: "photosynthesis",
                lessonId: f.lessonId
              )
              _ = try await tutor.endSession(.with { $0.sessionID = session.id }, metadata: m)
            }
          ),
          ("ListCurricula", all, { m in _ = try await curriculum.listCurricula(.init(), metadata: m) }),
          (
            "GetCurriculum", all,
            { m in
              _ = try await curriculum.getCurriculum(
                .with { $0.curriculumID = "photosynthesis" },
                metadata: m
              )
            }
          ),
          (
            "GetLesson", all,
            { m in
              _ = try await curriculum.getLesson(
                .with {
                  $0.curriculumID = "photosynthesis"
                  $0.lessonID = f.lessonId
                },
                metadata: m
              )
            }
          ),
          (
            "SearchSnippets", all,
            { m in _ = try await curriculum.searchSnippets(.with { $0.query = "chlorophyll" }, metadata: m) }
          ),
          (
            "ValidateCurriculum", [.teacher, .fractionsTeacher, .author, .admin],
            { m in _ = try await curriculum.validateCurriculum(.init(), metadata: m) }
          ),
          (
            "ReloadCurricula", [.teacher, .fractionsTeacher, .author, .admin],
            { m in _ = try await curriculum.reloadCurricula(.init(), metadata: m) }
          ),
          ("GetModelInfo", all, { m in _ = try await model.getModelInfo(.init(), metadata: m) }),
          (
            "Generate", [.author, .admin],
            { m in
              try await model.generate(
                .with {
                  $0.prompt = "Plants"
                  $0.options.maxNewTokens = 2
                },
                metadata: m
              ) { response in for try await _ in response.messages {} }
            }
          ),
          (
            "ExportSessions", [.analyst, .admin],
            { m in
              try await analytics.exportSessions(.with { $0.format = .csv }, metadata: m) { response in
                for try await _ in response.messages {}
              }
            }
          ),
          (
            "GetStudentProgress", [.ada, .teacher, .analyst, .admin],
            { m in _ = try await analytics.getStudentProgress(.with { $0.studentID = "ada" }, metadata: m) }
          ),
          (
            "DeleteStudentData", [.admin],
            { m in
              _ = try await store.startSession(
                studentId: "zed",
                curriculumId: "photosynthesis",
                lessonId: f.lessonId
              )
              _ = try await admin.deleteStudentData(.with { $0.studentID = "zed" }, metadata: m)
            }
          ),
        ]
        // Every RPC of every tutor.v1 service is in the table, so a new one can't go untested.
        let methods =
          Tutor_V1_TutorService.Method.descriptors + Tutor_V1_CurriculumService.Method.descriptors
          + Tutor_V1_ModelService.Method.descriptors + Tutor_V1_AnalyticsService.Method.descriptors
          + Tutor_V1_AdminService.Method.descriptors
        #expect(Set(rpcs.map(\.0)) == Set(methods.map(\.method)) && rpcs.count == methods.count)
        for (name, allowed, call) in rpcs {
          for caller in Caller.allCases {
            let code = await Self.status { try await call(f.metadata(caller)) }
            if allowed.contains(caller) {
              #expect(
                code != .permissionDenied && code != .unauthenticated,
                "\(name) as \(caller): \(String(describing: code))"
              )
            } else {
              #expect(code == .permissionDenied, "\(name) as \(caller): \(String(describing: code))")
            }
          }
          // No token, a made-up one: UNAUTHENTICATED, before anything else is looked at.
          #expect(await Self.status { try await call([:]) } == .unauthenticated, "\(name) without a token")
          #expect(
            await Self.status { try await call(["authorization": "Bearer tutor_0123456789abcdef_forged"]) }
              == .unauthenticated,
            "\(name) with a forged token"
          )
        }
        // Health needs no token (load balancers).
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        let checked = try await health.check(.init())
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
