import Synchronization

/// Scratch memory for forward passes, kept between them. A 512-token prefill needs ~20 MB of
/// activations; allocated fresh each pass, that memory comes from new pages the kernel must
/// zero (5% of prefill time under `perf`). Passes take a workspace from the shelf and put it
/// back, so concurrent passes each have their own and memory stays bounded by how many ran at
/// once.
final class Workspace: @unchecked Sendable {
  private(set) var base: UnsafeMutablePointer<Float>
  private(set) var capacity: Int

  init(capacity: Int) {
    base = Self.allocate(capacity)
    self.capacity = capacity
  }

  /// At least `count` floats (previous contents are not kept).
  func reserve(_ count: Int) {
    guard count > capacity else { return }
    PageMemory.release(base, byteCount: capacity * MemoryLayout<Float>.size)
    capacity = count
    base = Self.allocate(count)
  }

  deinit { PageMemory.release(base, byteCount: capacity * MemoryLayout<Float>.size) }

  private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
    PageMemory.allocate(byteCount: count * MemoryLayout<Float>.size).bindMemory(
      to: Float.self,
      capacity: count
    )
  }
}

/// Idle workspaces. Only the thread that took a workspace uses it until it is put back; that
/// hand-over under the mutex is what makes `Workspace`'s unchecked sendability sound.
final class WorkspaceShelf: Sendable {
  private let idle = Mutex<[Workspace]>([])
  /// Larger workspaces are not kept: one very long pass shouldn't pin its memory for good.
  private let maxKeptFloats: Int
  private let maxKept = 4

  init(maxKeptFloats: Int = 16 << 20) { self.maxKeptFloats = maxKeptFloats }

  func withWorkspace<T>(floats: Int, _ body: (UnsafeMutablePointer<Float>) throws -> T) rethrows -> T {
    let workspace = idle.withLock { $0.popLast() } ?? Workspace(capacity: floats)
    workspace.reserve(floats)
    defer {
      if workspace.capacity <= maxKeptFloats {
        idle.withLock { if $0.count < maxKept { $0.append(workspace) } }
      }
    }
    return try body(workspace.base)
  }
}
