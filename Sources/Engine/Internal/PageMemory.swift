#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Anonymous memory mapped straight from the kernel and unmapped when released, for the engine's
/// large, long-lived buffers (KV caches, activation workspaces).
///
/// Through malloc, such buffers would come from glibc's heap once its adaptive mmap threshold has
/// risen past their size (it rises each time a large block is freed): a finished session's cache
/// then stays resident as a hole in the heap, and a server's memory creeps up with every session
/// of a new length. Mapped pages are returned at once, and pages never written cost nothing.
enum PageMemory {
  /// `byteCount` bytes (at least one page), page-aligned, reading as zero until written.
  static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
    let size = max(byteCount, 1)
    guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED
    else { fatalError("out of memory: cannot map \(size) bytes: \(String(cString: strerror(errno)))") }
    return p
  }

  /// Returns memory from ``allocate(byteCount:)``; `byteCount` must be the size it was given.
  static func release(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
    munmap(pointer, max(byteCount, 1))
  }
}
