import Curriculum
import Engine
import Foundation

/// The engine's sentence encoder as the retrieval index's ``TextEmbedder``: the one place where
/// the curricula's search and the engine meet.
public struct SnippetEncoder: TextEmbedder {
  public let encoder: SentenceEncoder

  public init(_ encoder: SentenceEncoder) { self.encoder = encoder }

  /// Loads a sentence-transformers folder (e.g. `models/all-MiniLM-L6-v2`).
  public static func load(directory: String, threads: Int? = nil) throws -> SnippetEncoder {
    SnippetEncoder(try SentenceEncoder.load(directory: URL(fileURLWithPath: directory), threads: threads))
  }

  /// The encoder shipped by `tools/fetch-models.sh`, relative to the working directory.
  public static let defaultDirectory = "models/all-MiniLM-L6-v2"

  public var fingerprint: String { encoder.fingerprint }
  public var dimension: Int { encoder.dimension }
  public func embed(_ texts: [String]) throws -> [[Float]] { try encoder.embed(texts) }
}
