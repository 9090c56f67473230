import Curriculum
import Foundation
import Testing
import TutorStore

@testable import Tutoring

/// Authorisation is the core's: each operation checks the caller against one table, then the
/// ownership rules. Tested here without gRPC; `TutorServerTests/AccessTests` checks the same
/// rules end to end.
@Suite struct CoreAccessTests {
  /// Who may ask for what, written out independently of ``CoreOperation/allowedRoles``.
  static let expected: [CoreOperation: Set<Role>] = [
    .startSession: [.student, .admin], .ask: [.student, .admin], .submitAnswer: [.student, .admin],
    .endSession: [.student, .admin],
    .getSession: [.student, .teacher, .admin], .listSessions: [.student, .teacher, .admin],
    .listCurricula: Set(Role.allCases), .getCurriculum: Set(Role.allCases), .getLesson: Set(Role.allCases),
    .searchSnippets: Set(Role.allCases), .modelInfo: Set(Role.allCases),
    .validateCurriculum: [.teacher, .author, .admin], .reloadCurricula: [.teacher, .author, .admin],
    .generate: [.author, .admin],
    .exportSessions: [.analyst, .admin],
    .studentProgress: [.student, .teacher, .analyst, .admin],
    .listFlaggedTurns: [.teacher, .analyst, .admin],
    .deleteStudentData: [.admin],
  ]

  @Test(arguments: CoreOperation.allCases, Role.allCases)
  func theTableSaysWhoMay(operation: CoreOperation, role: Role) throws {
    let caller = Principal(tokenId: "t", role: role, studentId: role == .student ? "ada" : nil)
    let allowed = try #require(Self.expected[operation], "every operation has an expectation")
    if allowed.contains(role) {
      try caller.authorize(operation)
    } else {
      #expect(throws: TutoringError.self) { try caller.authorize(operation) }
    }
  }

  static let ada = Principal(tokenId: "ada", role: .student, studentId: "ada")
  static let bo = Principal(tokenId: "bo", role: .student, studentId: "bo")
  static let teacher = Principal(tokenId: "t", role: .teacher, curricula: ["fractions-ratios"])
  static let author = Principal(tokenId: "a", role: .author)

  /// A core over the shipped curricula and a model (by default the small test model; the bundled
  /// one where a tutoring prompt must fit its context), in a fresh database.
  static func withCore(
    model path: String = "Tests/EngineTests/Fixtures/gpt2-vocab",
    _ body: (TutoringService) async throws -> Void
  ) async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("core-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try TutorModel.load(
      directory: HybridRetrievalTests.repository.appendingPathComponent(path),
      threads: 1
    )
    defer { model.shutdown() }
    let service = TutoringService(
      catalog: try CurriculumCatalog(root: HybridRetrievalTests.curricula),
      model: model,
      store: try LearningRecordStore(path: folder.appendingPathComponent("t.sqlite").path)
    )
    try await body(service)
  }

  static func denied(_ body: () async throws -> Void) async -> Bool {
    do {
      try await body()
      return false
    } catch TutoringError.permissionDenied {
      return true
    } catch {
      Issue.record("expected PERMISSION_DENIED, got \(error)")
      return false
    }
  }

  @Test func studentsReachOnlyTheirOwnSessions() async throws {
    try await Self.withCore { core in
      // An empty student id means the caller; another student's id is refused.
      let own = try await core.startSession(
        by: Self.ada,
        studentId: "",
        curriculumId: "photosynthesis",
        lessonId: nil
      )
      #expect(own.studentId == "ada")
      #expect(
        await Self.denied {
          _ = try await core.startSession(
            by: Self.ada,
            studentId: "bo",
            curriculumId: "photosynthesis",
            lessonId: nil
          )
        }
      )
      #expect(try await core.session(by: Self.ada, id: own.id).session.id == own.id)
      #expect(await Self.denied { _ = try await core.session(by: Self.bo, id: own.id) })
      #expect(await Self.denied { _ = try await core.endSession(by: Self.bo, id: own.id) })
      #expect(
        await Self.denied {
          _ = try await core.submitAnswer(by: Self.bo, sessionId: own.id, exerciseId: "x", answer: "y")
        }
      )
      // A missing session looks the same as someone else's to a student; an admin learns it is missing.
      #expect(await Self.denied { _ = try await core.session(by: Self.bo, id: "no-such-session") })
      await #expect(throws: TutoringError.notFound("no session 'no-such-session'")) {
        _ = try await core.session(by: .localOperator, id: "no-such-session")
      }
      // Listing: a student sees their own only.
      #expect(
        try await core.listSessions(
          by: Self.ada,
          studentId: "",
          curriculumId: nil,
          pageSize: 0,
          pageToken: nil
        )
        .sessions.map(\.id) == [own.id]
      )
      #expect(
        await Self.denied {
          _ = try await core.listSessions(
            by: Self.bo,
            studentId: "ada",
            curriculumId: nil,
            pageSize: 0,
            pageToken: nil
          )
        }
      )
    }
  }

  @Test func teachersReadTheirCurriculaAndWriteNothing() async throws {
    try await Self.withCore { core in
      let photosynthesis = try await core.startSession(
        by: Self.ada,
        studentId: "ada",
        curriculumId: "photosynthesis",
        lessonId: nil
      )
      let fractions = try await core.startSession(
        by: Self.ada,
        studentId: "ada",
        curriculumId: "fractions-ratios",
        lessonId: nil
      )
      #expect(try await core.session(by: Self.teacher, id: fractions.id).session.id == fractions.id)
      #expect(await Self.denied { _ = try await core.session(by: Self.teacher, id: photosynthesis.id) })
      #expect(await Self.denied { _ = try await core.endSession(by: Self.teacher, id: fractions.id) })
      #expect(
        await Self.denied {
          _ = try await core.startSession(
            by: Self.teacher,
            studentId: "ada",
            curriculumId: "fractions-ratios",
            lessonId: nil
          )
        }
      )
      // Progress: in a curriculum the token covers, not elsewhere.
      #expect(
        await Self.denied {
          _ = try await core.progress(by: Self.teacher, studentId: "ada", curriculumId: "photosynthesis")
        }
      )
    }
  }

  @Test func onlyAuthorsAndAdminsDriveTheRawModelAndOnlyAdminsDelete() async throws {
    try await Self.withCore { core in
      #expect(
        await Self.denied {
          _ = try await core.generate(by: Self.ada, prompt: "Hi", stop: [], options: .init(maxNewTokens: 1)) {
            _,
            _ in
          }
        }
      )
      let outcome = try await core.generate(
        by: Self.author,
        prompt: "Hi",
        stop: [],
        options: .init(maxNewTokens: 1)
      ) {
        _,
        _ in
      }
      #expect(outcome.tokenIds.count == 1)
      _ = try await core.startSession(
        by: Self.ada,
        studentId: "ada",
        curriculumId: "photosynthesis",
        lessonId: nil
      )
      #expect(await Self.denied { _ = try await core.deleteStudentData(by: Self.author, studentId: "ada") })
      #expect(await Self.denied { _ = try await core.deleteStudentData(by: Self.ada, studentId: "ada") })
      #expect(try await core.deleteStudentData(by: .localOperator, studentId: "ada").sessions == 1)
      #expect(await Self.denied { _ = try await core.reloadCurricula(by: Self.ada) })
      #expect(try core.modelInfo(by: Self.ada).layers > 0)
    }
  }
}
