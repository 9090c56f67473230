import TutorStore

/// Why a tutoring request was refused; each case maps to one gRPC status code.
public enum TutoringError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The request is malformed (INVALID_ARGUMENT).
  case invalidArgument(String)
  /// A named session, curriculum, lesson or exercise does not exist (NOT_FOUND).
  case notFound(String)
  /// The request does not fit the current state, e.g. asking in an ended session (FAILED_PRECONDITION).
  case failedPrecondition(String)
  /// A limit was reached; the caller may retry later (RESOURCE_EXHAUSTED).
  case resourceExhausted(String)
  /// Something failed inside the server (INTERNAL); the message is safe to show.
  case internalError(String)
  /// No credentials, or ones the server doesn't accept (UNAUTHENTICATED).
  case unauthenticated(String)
  /// The caller is known but may not do this (PERMISSION_DENIED).
  case permissionDenied(String)
  /// The server cannot do it now, e.g. the database takes no writes; retry later (UNAVAILABLE).
  case unavailable(String)

  public var description: String {
    switch self {
    case .invalidArgument(let m), .notFound(let m), .failedPrecondition(let m), .resourceExhausted(let m),
      .internalError(let m), .unauthenticated(let m), .permissionDenied(let m), .unavailable(let m):
      return m
    }
  }

  /// Any error a core operation lets out, as the core classifies it: its own as they are, the
  /// store's "cannot write" as UNAVAILABLE, anything else as nil (an internal failure, whose
  /// details belong in the server's log rather than in the caller's hands).
  public init?(classifying error: any Error) {
    switch error {
    case let error as TutoringError: self = error
    case TutorStoreError.storageUnavailable(let reason):
      self = .unavailable(TutorStoreError.storageUnavailable(reason).description)
    default: return nil
    }
  }
}
