import Foundation

/// Errors a caller maps to a status (NOT_FOUND, FAILED_PRECONDITION, INVALID_ARGUMENT).
public enum TutorStoreError: Error, Equatable, Sendable, CustomStringConvertible {
  case sessionNotFound(String)
  case sessionEnded(String)
  case turnNotFound(String)
  /// The session has a question being answered (by this replica or another).
  case sessionBusy(String)
  case invalidPageToken
  /// The database cannot be opened (or reached) or is not a tutor database.
  case cannotOpen(path: String, reason: String)
  /// Writes fail for a reason outside the request (disk full, read-only file, I/O error); the
  /// failed write left nothing behind.
  case storageUnavailable(String)
  /// A copy's target already holds records (the tables and their counts).
  case targetNotEmpty(String)
  /// After a copy, a table holds a different number of rows in the target.
  case copyMismatch(String)

  public var description: String {
    switch self {
    case .sessionNotFound(let id): return "no session '\(id)'"
    case .sessionEnded(let id): return "session '\(id)' has ended"
    case .turnNotFound(let id): return "no turn '\(id)'"
    case .sessionBusy(let id):
      return "session '\(id)' is already answering a question; wait for it to finish"
    case .invalidPageToken: return "page_token is not one this server issued"
    case .cannotOpen(let path, let reason): return "\(path): cannot open the database: \(reason)"
    case .targetNotEmpty(let counts):
      return "the target database is not empty (\(counts)); copy into an empty one"
    case .copyMismatch(let tables): return "the copy is incomplete: \(tables)"
    case .storageUnavailable(let reason):
      return
        "the database cannot store anything now (\(reason)); nothing of this request was saved, retry later"
    }
  }
}

/// Keyset paging position: the last session of a page, as an opaque token.
struct PageCursor {
  var createdAtMs: Int64
  var id: String

  init(createdAtMs: Int64, id: String) {
    self.createdAtMs = createdAtMs
    self.id = id
  }

  init(token: String) throws {
    guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8) else {
      throw TutorStoreError.invalidPageToken
    }
    let parts = text.split(separator: "|", maxSplits: 1)
    guard parts.count == 2, let ms = Int64(parts[0]) else { throw TutorStoreError.invalidPageToken }
    createdAtMs = ms
    id = String(parts[1])
  }

  var token: String { Data("\(createdAtMs)|\(id)".utf8).base64EncodedString() }
}
