import Foundation
import Synchronization
import Testing
import TutorTestSupport

@testable import Engine

/// The forward pass against Hugging Face transformers' logits.
@Suite struct ForwardPassTests {
  @Test(arguments: Fixtures.modelNames)
  func logitsMatchTransformersAtEveryPosition(model name: String) throws {
    let reference = try Fixtures.reference(name)
    let expected = try Fixtures.logits(name)
    let model = try Fixtures.model(name)
    let prompt = reference.prompts[reference.logits.prompt].token_ids
    let vocab = model.configuration.vocabSize
    #expect(reference.logits.shape == [prompt.count, vocab])

    let hidden = try model.forward(tokens: prompt, cache: model.makeCache())
    let logits = model.logits(hidden: hidden, rows: 0 ..< prompt.count)
    var worst: Float = 0
    for i in 0 ..< logits.count { worst = max(worst, abs(logits[i] - expected[i])) }
    #expect(worst < 1e-3, "largest logit difference \(worst)")
  }

  @Test(arguments: Fixtures.modelNames)
  func incrementalDecodingWithCacheMatchesFullPass(model name: String) throws {
    let reference = try Fixtures.reference(name)
    let expected = try Fixtures.logits(name)
    let model = try Fixtures.model(name, threads: 1)
    let prompt = reference.prompts[reference.logits.prompt].token_ids
    let vocab = model.configuration.vocabSize
    // Feed the prompt in uneven chunks, so that cached local layers see windows across chunk edges.
    let cache = model.makeCache(capacity: 2)
    var position = 0
    var worst: Float = 0
    for size in [1, 3, 1, 2, 7, 100] where position < prompt.count {
      let chunk = prompt[position ..< min(prompt.count, position + size)]
      let hidden = try model.forward(tokens: chunk, cache: cache)
      let logits = model.logits(hidden: hidden, rows: 0 ..< chunk.count)
      for i in 0 ..< logits.count { worst = max(worst, abs(logits[i] - expected[position * vocab + i])) }
      position += chunk.count
    }
    #expect(cache.count == prompt.count)
    #expect(worst < 1e-3, "largest logit difference \(worst)")
  }

  /// The residual stream that `tutor residual-stream` writes for the float64 block-by-block check
  /// (tools/reference/layer_reference.py): the embeddings, every block's output, the final states.
  @Test(arguments: Fixtures.modelNames)
  func theResidualStreamIsThePassItself(model name: String) throws {
    let model = try Fixtures.model(name)
    let prompt = try Fixtures.reference(name).prompts[0].token_ids
    let h = model.configuration.hiddenSize
    let stream = try model.residualStream(tokens: prompt)
    #expect(stream.count == model.configuration.numLayers + 2)
    #expect(stream.allSatisfy { $0.count == prompt.count * h })
    // The last is the pass's output, bit for bit.
    let hidden = try model.forward(tokens: prompt, cache: model.makeCache())
    #expect(stream.last!.map(\.bitPattern) == hidden.map(\.bitPattern))
    // The first is token plus position embedding.
    var embedded = [Float](repeating: 0, count: h)
    model.weights.wte.copyRow(prompt[1], into: &embedded)
    let position = (0 ..< h).map { model.weights.wpe.pointer[h + $0] }
    #expect(zip(embedded, position).map { $0 + $1 } == Array(stream[0][h ..< 2 * h]))
    // Each block changes the stream.
    for l in 1 ..< stream.count - 1 { #expect(stream[l] != stream[l - 1], "block \(l - 1)") }
  }

  /// The bandwidth probe of `tutor bench engine` reads every region the weights occupy (int8
  /// matrices' scales included), once, whatever the format.
  @Test(arguments: [WeightFormat.float32, .float16, .int8])
  func theWeightReadProbeReadsEveryByteOnce(format: WeightFormat) throws {
    let model = try GPTNeoModel.load(
      directory: Repository.bundledModel,
      options: .init(threads: 2, weightFormat: format)
    )
    let regions = model.weights.allTensors.flatMap(\.regions)
    #expect(regions.reduce(0) { $0 + $1.bytes } == model.weightBytes)
    let rate = model.weightReadBandwidth()
    #expect(rate.isFinite && rate > 0)
    // The word sum the reads go through: whole 256-byte blocks as 32-bit words, then the bytes.
    let bytes = (0 ..< 300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let words = (0 ..< 64).map { i in
      (0 ..< 4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 * i + $1]) << (8 * $1) }
    }
    let expected = words.reduce(0, &+) &+ bytes[256...].reduce(UInt32(0)) { $0 &+ UInt32($1) }
    #expect(bytes.withUnsafeBytes { GPTNeoModel.sumWords($0.baseAddress!, bytes: 300) } == expected)
  }

  /// Passes on one model from several threads at once share its worker pool (the ones that find
  /// it busy run their loops on Dispatch's threads) and still give the single-threaded results.
  @Test func concurrentPassesOnOneModelMatchOneThread() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("gptneo-concurrent-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    // Wide enough that every matrix product is split across the threads.
    let configuration = GPTNeoConfiguration(
      vocabSize: 512,
      maxPositionEmbeddings: 64,
      hiddenSize: 256,
      numLayers: 2,
      numHeads: 4,
      windowSize: 8
    )
    try GPTNeoModel.writeRandomCheckpoint(
      configuration: configuration,
      tokenizerDirectory: Fixtures.directory("tiny-bf16"),
      seed: 7,
      to: directory
    )
    let serial = try GPTNeoModel.load(directory: directory, options: .init(threads: 1))
    let shared = try GPTNeoModel.load(directory: directory, options: .init(threads: 2))
    let prompts = (0 ..< 8).map { s in (0 ..< 5 + 3 * s).map { (17 + 31 * $0 + 101 * s) % 512 } }
    let expected = try prompts.map { try serial.forward(tokens: $0, cache: serial.makeCache()) }
    let results = Mutex([[Float]](repeating: [], count: prompts.count))
    DispatchQueue.concurrentPerform(iterations: prompts.count) { i in
      let hidden = try? shared.forward(tokens: prompts[i], cache: shared.makeCache())
      results.withLock { $0[i] = hidden ?? [] }
    }
    for i in prompts.indices { #expect(results.withLock { $0[i] } == expected[i], "prompt \(i)") }
  }

  @Test func rejectsTokensOutsideTheVocabularyAndContext() throws {
    let model = try Fixtures.model("tiny-bf16")
    let cache = model.makeCache()
    #expect(throws: EngineError.tokenOutOfRange(id: 512, vocabularySize: 512)) {
      try model.forward(tokens: [1, 512], cache: cache)
    }
    #expect(cache.count == 0)
    let limit = model.configuration.maxPositionEmbeddings
    #expect(throws: EngineError.contextOverflow(tokens: limit + 1, limit: limit)) {
      try model.forward(tokens: [Int](repeating: 1, count: limit + 1), cache: cache)
    }
  }
}
