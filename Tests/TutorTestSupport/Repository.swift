import Foundation

/// Paths in the repository, for tests in any target.
public enum Repository {
  public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  /// The shipped curricula.
  public static let curricula = root.appendingPathComponent("curricula").path
  /// GPT-2's vocabulary and merges, with a small random checkpoint (the engine's fixture).
  public static let tokenizer = root.appendingPathComponent("Tests/EngineTests/Fixtures/gpt2-vocab")
  public static let curriculumFixtures = root.appendingPathComponent("Tests/CurriculumTests/Fixtures")
  public static let engineFixtures = root.appendingPathComponent("Tests/EngineTests/Fixtures")
  /// The bundled model and the sentence encoder (fetched by tools/fetch-models.sh).
  public static let bundledModel = root.appendingPathComponent("models/tutor")
  public static let encoder = root.appendingPathComponent("models/all-MiniLM-L6-v2")
}
