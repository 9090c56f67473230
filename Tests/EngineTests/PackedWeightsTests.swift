import Foundation
import Testing

@testable import Engine

/// The packed-weights file: written on the first load, mapped on the next, bit for bit the same
/// model; rebuilt when the checkpoint changes or the file is damaged.
@Suite struct PackedWeightsTests {
  /// A copy of a fixture checkpoint in a fresh folder, and a folder for packed files.
  static func scratch(_ name: String) throws -> (model: URL, packed: URL) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("packed-\(UUID().uuidString)")
    let model = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: Fixtures.directory(name), to: model)
    return (model, root.appendingPathComponent("packed"))
  }

  static func logits(_ model: GPTNeoModel) throws -> [Float] {
    let tokens = (0 ..< 20).map { (3 + 17 * $0) % model.configuration.vocabSize }
    let hidden = try model.forward(tokens: tokens, cache: model.makeCache())
    return model.logits(hidden: hidden, rows: 0 ..< tokens.count)
  }

  @Test(arguments: ["tiny-global-first", "tiny-local-first-f16-sharded", "tiny-bf16"], WeightFormat.allCases)
  func aMappedModelIsTheLoadedModel(name: String, format: WeightFormat) throws {
    let (dir, packed) = try Self.scratch(name)
    defer { try? FileManager.default.removeItem(at: packed.deletingLastPathComponent()) }
    let plain = try GPTNeoModel.load(directory: dir, options: .init(threads: 2, weightFormat: format))
    let options = GPTNeoModel.LoadOptions(threads: 2, weightFormat: format, packedWeightsDirectory: packed)
    let first = try GPTNeoModel.load(directory: dir, options: options)
    guard case .written(let path) = first.packedWeights else {
      Issue.record("first load: \(first.packedWeights)")
      return
    }
    let second = try GPTNeoModel.load(directory: dir, options: options)
    #expect(second.packedWeights == .mapped(path: path))
    let expected = try Self.logits(plain)
    #expect(try Self.logits(first) == expected)
    #expect(try Self.logits(second) == expected, "\(name) \(format)")
    #expect(second.weightBytes == plain.weightBytes && second.parameterCount == plain.parameterCount)
  }

  @Test func aChangedCheckpointOrADamagedFileIsRepacked() throws {
    let (dir, packed) = try Self.scratch("tiny-global-first")
    defer { try? FileManager.default.removeItem(at: packed.deletingLastPathComponent()) }
    let options = GPTNeoModel.LoadOptions(threads: 2, weightFormat: .float16, packedWeightsDirectory: packed)
    guard case .written(let old) = try GPTNeoModel.load(directory: dir, options: options).packedWeights else {
      Issue.record("not written: \(try GPTNeoModel.load(directory: dir, options: options).packedWeights)")
      return
    }
    // The weights file is rewritten (new modification time): a new packed file replaces the old.
    let weights = dir.appendingPathComponent("model.safetensors")
    let data = try Data(contentsOf: weights)
    try data.write(to: weights)
    let changed = try GPTNeoModel.load(directory: dir, options: options)
    guard case .written(let new) = changed.packedWeights else {
      Issue.record("stale file used: \(changed.packedWeights)")
      return
    }
    #expect(new != old && !FileManager.default.fileExists(atPath: old), "the stale file is deleted")
    // A truncated file is not used: the checkpoint is loaded and the file written again.
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: new))
    try handle.truncate(atOffset: 100)
    try handle.close()
    let repaired = try GPTNeoModel.load(directory: dir, options: options)
    #expect(repaired.packedWeights == .written(path: new))
    #expect(try GPTNeoModel.load(directory: dir, options: options).packedWeights == .mapped(path: new))
    // Another weight format has a file of its own.
    let int8 = try GPTNeoModel.load(
      directory: dir,
      options: .init(threads: 2, weightFormat: .int8, packedWeightsDirectory: packed)
    )
    guard case .written(let other) = int8.packedWeights else {
      Issue.record("int8: \(int8.packedWeights)")
      return
    }
    #expect(other != new && FileManager.default.fileExists(atPath: new))
  }
}
