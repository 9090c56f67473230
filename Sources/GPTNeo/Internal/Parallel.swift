import Dispatch

/// Runs `body(i)` for i in 0..<count on up to `threads` threads and returns when all are done.
///
/// Dispatch's worker threads, not Swift's cooperative pool, do the work: the engine's compute must
/// not starve the async tasks that serve requests.
///
/// The kernels' closures capture raw buffer pointers, which are not `Sendable`. Every caller
/// gives each iteration a disjoint range of the output to write and only reads shared inputs, and
/// `concurrentPerform` returns only after every iteration has finished, so the closure never
/// outlives this call nor races; the cast below states that to the compiler.
func parallelFor(_ count: Int, threads: Int, _ body: (Int) -> Void) {
  if threads <= 1 || count <= 1 {
    for i in 0 ..< count { body(i) }
    return
  }
  withoutActuallyEscaping(body) { body in
    let sendable = unsafeBitCast(body, to: (@Sendable (Int) -> Void).self)
    DispatchQueue.concurrentPerform(iterations: count, execute: sendable)
  }
}
