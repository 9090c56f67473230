#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory for the lifetime of the object.
///
/// `@unchecked Sendable` is sound here: the mapping is created once, never written
/// (`PROT_READ`), and unmapped only in `deinit`, when no reference remains.
final class MappedFile: @unchecked Sendable {
  let path: String
  let base: UnsafeRawPointer
  let size: Int

  init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      if errno == ENOENT { throw EngineError.fileNotFound(path: path) }
      throw EngineError.corruptSafetensors(
        path: path,
        reason: "cannot open: \(String(cString: strerror(errno)))"
      )
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
      throw EngineError.corruptSafetensors(
        path: path,
        reason: "cannot stat: \(String(cString: strerror(errno)))"
      )
    }
    size = Int(st.st_size)
    guard size > 0 else {
      throw EngineError.corruptSafetensors(path: path, reason: "file is empty")
    }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
      throw EngineError.corruptSafetensors(
        path: path,
        reason: "cannot map: \(String(cString: strerror(errno)))"
      )
    }
    base = UnsafeRawPointer(p)
  }

  /// Drops every page of the mapping from the process's resident memory (the file's contents stay
  /// in the page cache; a later read faults them back in). The loader calls it after each tensor
  /// it has copied: a page fault may map a whole large folio of the page cache at once, pages of
  /// neighbouring tensors with it, so releasing only the tensor's own range leaves some behind.
  func releaseResidentPages() {
    _ = madvise(UnsafeMutableRawPointer(mutating: base), size, Int32(MADV_DONTNEED))
  }

  deinit {
    munmap(UnsafeMutableRawPointer(mutating: base), size)
  }
}
