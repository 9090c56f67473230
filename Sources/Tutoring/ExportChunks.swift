import Analytics
import Foundation
import TutorStore

/// An export read on a thread of its own (the database read blocks) and handed to the RPC chunk
/// by chunk, with back-pressure: the reader waits while four chunks are waiting to be sent, so a
/// slow client holds at most ~256 KiB of an export in memory, and stops when the call ends.
public final class ExportChunks: @unchecked Sendable {
  private let condition = NSCondition()
  private var queue: [Data] = []
  private var finished = false
  private var failure: (any Error)?
  private var cancelled = false
  private var waiting: CheckedContinuation<Void, Never>?
  private static let depth = 4

  static func start(
    store: LearningRecordStore,
    filter: ExportFilter,
    format: ExportFormat,
    options: ExportOptions
  ) -> ExportChunks {
    let chunks = ExportChunks()
    Thread.detachNewThread {
      do {
        try AnalyticsExporter.export(from: store, filter: filter, format: format, options: options) { data in
          try chunks.put(data)
        }
        chunks.finish(nil)
      } catch {
        chunks.finish(error)
      }
    }
    return chunks
  }

  /// Called by the reader thread: waits for room, throws once the call has ended.
  private func put(_ data: Data) throws {
    condition.lock()
    while queue.count >= Self.depth && !cancelled { condition.wait() }
    if cancelled {
      condition.unlock()
      throw CancellationError()
    }
    queue.append(data)
    let continuation = waiting
    waiting = nil
    condition.unlock()
    continuation?.resume()
  }

  private func finish(_ error: (any Error)?) {
    condition.lock()
    finished = true
    failure = error
    let continuation = waiting
    waiting = nil
    condition.unlock()
    continuation?.resume()
  }

  private enum Take {
    case chunk(Data)
    case end((any Error)?)
    case empty
  }

  private func take() -> Take {
    condition.lock()
    defer { condition.unlock() }
    if !queue.isEmpty {
      condition.signal()
      return .chunk(queue.removeFirst())
    }
    return finished ? .end(failure) : .empty
  }

  /// Keeps `continuation` to be resumed by the next chunk or the end; resumes it at once if one
  /// came meanwhile.
  private func park(_ continuation: CheckedContinuation<Void, Never>) {
    condition.lock()
    if queue.isEmpty && !finished {
      waiting = continuation
      condition.unlock()
    } else {
      condition.unlock()
      continuation.resume()
    }
  }

  /// The next chunk; nil at the end. Rethrows the reader's error.
  public func next() async throws -> Data? {
    while true {
      try Task.checkCancellation()
      switch take() {
      case .chunk(let data): return data
      case .end(let error):
        if let error, !(error is CancellationError) { throw error }
        return nil
      case .empty: await withCheckedContinuation { park($0) }
      }
    }
  }

  /// Stops the reader (the call ended or failed).
  public func cancel() {
    condition.lock()
    cancelled = true
    condition.broadcast()
    condition.unlock()
  }
}
