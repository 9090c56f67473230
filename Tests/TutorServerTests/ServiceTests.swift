import Curriculum
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Synchronization
import Testing
import TutorAPI
import TutorServer
import TutorTestSupport

/// The curriculum and model services through the real server.
@Suite("Course and model services")
struct ServiceTests {
  @Test("Course service: list, get, lesson without answers, search, validate, reload")
  func curriculumService() async throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tutor-curricula-\(UUID().uuidString)"
    )
    try FileManager.default.copyItem(at: URL(fileURLWithPath: Repository.curricula), to: scratch)
    try await withTestServer(curricula: scratch.path) { server in
      try await server.withClient { client in
        let curricula = Tutor_V1_CurriculumService.Client(wrapping: client)
        let list = try await curricula.listCurricula(.init())
        #expect(list.curricula.map(\.curriculumID) == ["fractions-ratios", "photosynthesis", "python-intro"])
        #expect(list.diagnostics.filter { $0.severity == .error }.isEmpty)

        let course = try await curricula.getCurriculum(.with { $0.curriculumID = "python-intro" })
        #expect(course.lessons.count == Int(course.summary.lessonCount))
        #expect(course.lessons.allSatisfy { !$0.objectives.isEmpty })

        let lessonId = course.lessons[0].lessonID
        let lesson = try await curricula.getLesson(
          .with {
            $0.curriculumID = "python-intro"
            $0.lessonID = lessonId
          }
        )
        #expect(!lesson.bodyMarkdown.isEmpty)
        #expect(!lesson.snippets.isEmpty)
        #expect(lesson.exercises.allSatisfy { !$0.prompt.isEmpty && $0.answerKind != .unspecified })

        let hits = try await curricula.searchSnippets(
          .with {
            $0.query = "how do leaves make sugar from light"
            $0.limit = 3
          }
        )
        #expect(hits.hits.count == 3)
        #expect(hits.hits.first?.curriculumID == "photosynthesis")

        // Validation of uploaded files reports problems against the names sent.
        let broken = try await curricula.validateCurriculum(
          .with {
            $0.files = [
              .with {
                $0.path = "demo/curriculum.yaml"
                $0.content = Data("id: demo\ntitle: Demo\n".utf8)
              }
            ]
          }
        )
        #expect(!broken.valid)
        #expect(
          broken.diagnostics.contains { $0.file.hasPrefix("demo/") && $0.severity == .error && $0.line >= 1 }
        )
        await #expect(throws: RPCError.self) {
          _ = try await curricula.validateCurriculum(
            .with {
              $0.files = [
                .with {
                  $0.path = "../etc/passwd"
                  $0.content = Data()
                }
              ]
            }
          )
        }

        // Reload: a curriculum broken on disk keeps serving its previous version.
        let yaml = scratch.appendingPathComponent("python-intro/curriculum.yaml")
        try Data("id: python-intro\ntitle: [unclosed\n".utf8).write(to: yaml)
        let report = try await curricula.reloadCurricula(.init())
        #expect(report.keptPrevious == ["python-intro"])
        #expect(report.reloaded.sorted() == ["fractions-ratios", "photosynthesis"])
        #expect(
          report.diagnostics.contains { $0.file == "python-intro/curriculum.yaml" && $0.severity == .error }
        )
        let after = try await curricula.listCurricula(.init())
        #expect(after.curricula.map(\.curriculumID).contains("python-intro"))

        // Removing a folder drops its curriculum.
        try FileManager.default.removeItem(at: scratch.appendingPathComponent("fractions-ratios"))
        let removal = try await curricula.reloadCurricula(.init())
        #expect(removal.removed == ["fractions-ratios"])
      }
    }
  }

  @Test("Model service: info and a raw streamed generation")
  func modelService() async throws {
    try await withTestServer { server in
      try await server.withClient { client in
        let model = Tutor_V1_ModelService.Client(wrapping: client)
        let info = try await model.getModelInfo(.init())
        #expect(info.architecture == "gpt_neo")
        #expect(info.contextLength == 2048)
        #expect(info.vocabSize == 50257)
        #expect(info.parameterCount > 3_000_000)
        let (text, completed) = try await model.generate(
          .with {
            $0.prompt = "Photosynthesis is"
            $0.options = .with { $0.maxNewTokens = 10 }
          }
        ) { response in
          var text = ""
          var completed: Tutor_V1_GenerateCompleted?
          for try await message in response.messages {
            switch message.event {
            case .delta(let d): text += d.text
            case .completed(let c): completed = c
            default: break
            }
          }
          return (text, completed)
        }
        let done = try #require(completed)
        #expect(done.text == text)
        #expect(done.tokenIds.count == 10 || done.finishReason == .endOfText)
        // "Phot" "osynthesis" " is", as Hugging Face's GPT-2 tokenizer encodes it.
        #expect(done.promptTokenIds == [21197, 44411, 318])
      }
    }
  }
}
