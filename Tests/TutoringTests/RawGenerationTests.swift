import Curriculum
import Foundation
import Testing
import TutorStore

@testable import Tutoring

/// Raw generation is a core operation: validated there, and queued like any answer.
@Suite struct RawGenerationTests {
  @Test func rawGenerationHoldsASlotAndIsRefusedWhenTheQueueIsFull() async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("raw-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try TutorModel.load(
      directory: HybridRetrievalTests.repository.appendingPathComponent(
        "Tests/EngineTests/Fixtures/gpt2-vocab"
      ),
      threads: 1,
      maxConcurrentGenerations: 1,
      maxQueuedGenerations: 0
    )
    defer { model.shutdown() }
    let service = TutoringService(
      catalog: try CurriculumCatalog(root: HybridRetrievalTests.curricula),
      model: model,
      store: try LearningRecordStore(path: folder.appendingPathComponent("t.sqlite").path)
    )
    let gate = GenerationSchedulerTests.Gate()
    let holder = Task { try await model.withGenerationSlot { await gate.wait() } }
    try await GenerationSchedulerTests.until({ model.scheduler.load.running == 1 }, "the only slot is held")
    do {
      _ = try await service.generate(
        by: .localOperator,
        prompt: "Hello",
        stop: [],
        options: .init(maxNewTokens: 2)
      ) { _, _ in }
      Issue.record("a full queue must refuse raw generation")
    } catch let error as TutoringError {
      guard case .resourceExhausted = error else {
        Issue.record("expected resourceExhausted, got \(error)")
        return
      }
    }
    gate.open()
    try await holder.value
    var streamed = ""
    let outcome = try await service.generate(
      by: .localOperator,
      prompt: "Hello",
      stop: [],
      options: .init(maxNewTokens: 3)
    ) {
      text,
      _ in
      streamed += text
    }
    #expect((1 ... 3).contains(outcome.tokenIds.count))
    #expect(streamed == outcome.text)

    await #expect(throws: TutoringError.self) {
      _ = try await service.generate(by: .localOperator, prompt: "x", stop: [""], options: .init()) { _, _ in
      }
    }
    await #expect(throws: TutoringError.self) {
      _ = try await service.generate(
        by: .localOperator,
        prompt: "x",
        stop: [],
        options: .init(maxNewTokens: 0)
      ) { _, _ in }
    }
  }
}
