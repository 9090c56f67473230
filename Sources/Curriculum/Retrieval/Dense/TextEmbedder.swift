/// Something that turns texts into vectors whose dot product measures how close their meanings
/// are: the sentence encoder of the engine, adapted by the tutoring core (this module does not
/// depend on the engine), or a stand-in in tests.
public protocol TextEmbedder: Sendable {
  /// Identifies the model: embeddings cached under another fingerprint are never reused.
  var fingerprint: String { get }
  /// Length of every vector.
  var dimension: Int { get }
  /// One unit-length vector of ``dimension`` floats per text, in order.
  func embed(_ texts: [String]) throws -> [[Float]]
}
