import CEngineKernels
import Dispatch

/// The threads a model's forward passes run their parallel loops on: `threads - 1` workers of a
/// C fork-join pool (spinning briefly between loops, see pool.c) plus the calling thread.
///
/// These are plain threads, not Swift's cooperative pool: the engine's compute must not starve the
/// async tasks that serve requests. When two forward passes of one model run at once, the second
/// one's loops go to Dispatch's worker threads instead.
final class WorkerPool: @unchecked Sendable {
  let threads: Int
  private let pool: OpaquePointer?

  init(threads: Int) {
    self.threads = max(1, threads)
    pool = self.threads > 1 ? gn_pool_create(Int32(self.threads)) : nil
  }

  deinit { gn_pool_destroy(pool) }

  /// Runs `body(i)` for i in 0..<count on up to `limit` threads and returns when all are done.
  ///
  /// The kernels' closures capture raw buffer pointers, which are not `Sendable`. Every caller
  /// gives each iteration a disjoint range of the output to write and only reads shared inputs,
  /// and the loop returns only after every iteration has finished, so the closure never outlives
  /// this call nor races; the casts below state that to the compiler.
  func run(_ count: Int, limit: Int? = nil, _ body: (Int) -> Void) {
    if count <= 1 || min(limit ?? threads, threads) <= 1 {
      for i in 0 ..< count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { body in
      var task = body
      let ran = withUnsafeMutablePointer(to: &task) { task in
        gn_pool_run(
          pool,
          count,
          { context, index in
            context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
          },
          task
        )
      }
      if ran == 0 {
        let sendable = unsafeBitCast(body, to: (@Sendable (Int) -> Void).self)
        DispatchQueue.concurrentPerform(iterations: count, execute: sendable)
      }
    }
  }
}
