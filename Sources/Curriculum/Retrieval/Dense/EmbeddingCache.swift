import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Snippet embeddings kept on disk between runs, so that a restart or a reload embeds only the
/// snippets whose text changed.
///
/// One file per model, `<folder>/<fingerprint>.embeddings`: a header line
/// (`tutor-embeddings 1 <dimension> <count>`), then per entry the 64-bit hash of the embedded
/// text and its float32 vector (little-endian, the byte order of every platform served). Each build rewrites the file with exactly the
/// texts it indexed, so it never grows past the current curricula. A file that is missing,
/// truncated or of another shape is ignored (everything is embedded again).
public struct EmbeddingCache {
  let url: URL
  let dimension: Int

  init(folder: String, fingerprint: String, dimension: Int) {
    let safe = fingerprint.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    url = URL(fileURLWithPath: folder).appendingPathComponent("\(safe.isEmpty ? "model" : safe).embeddings")
    self.dimension = dimension
  }

  /// FNV-1a over the text's UTF-8 bytes, with its length mixed in.
  static func hash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in text.utf8 {
      h ^= UInt64(b)
      h = h &* 0x0000_0100_0000_01B3
    }
    return h ^ (UInt64(text.utf8.count) &* 0x9E37_79B9_7F4A_7C15)
  }

  /// The cached vectors by text hash (empty when there is no usable file).
  func load() -> [UInt64: [Float]] {
    guard let data = try? Data(contentsOf: url, options: .alwaysMapped),
      let newline = data.firstIndex(of: UInt8(ascii: "\n"))
    else { return [:] }
    let header = String(decoding: data[data.startIndex ..< newline], as: UTF8.self).split(separator: " ")
    guard header.count == 4, header[0] == "tutor-embeddings", header[1] == "1", Int(header[2]) == dimension,
      let count = Int(header[3]), count >= 0
    else { return [:] }
    let entry = 8 + 4 * dimension
    let body = newline + 1
    guard data.count - body == count * entry else { return [:] }
    var result: [UInt64: [Float]] = [:]
    result.reserveCapacity(count)
    data.withUnsafeBytes { raw in
      for i in 0 ..< count {
        let at = body - data.startIndex + i * entry
        let key = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        // Vectors are stored in the host's byte order, little-endian on every platform served.
        let v = [Float](unsafeUninitializedCapacity: dimension) { buffer, initialized in
          UnsafeMutableRawBufferPointer(buffer).copyMemory(
            from: UnsafeRawBufferPointer(rebasing: raw[(at + 8) ..< (at + entry)])
          )
          initialized = dimension
        }
        result[key] = v
      }
    }
    return result
  }

  /// Replaces the file with `entries` (written to a temporary file, then renamed).
  func store(_ entries: [(key: UInt64, vector: [Float])]) throws {
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(),
      withIntermediateDirectories: true
    )
    var data = Data("tutor-embeddings 1 \(dimension) \(entries.count)\n".utf8)
    data.reserveCapacity(data.count + entries.count * (8 + 4 * dimension))
    for (key, vector) in entries {
      withUnsafeBytes(of: key.littleEndian) { data.append(contentsOf: $0) }
      vector.withUnsafeBytes { data.append(contentsOf: $0) }
    }
    let temporary = url.appendingPathExtension("tmp-\(ProcessInfo.processInfo.processIdentifier)")
    try data.write(to: temporary)
    // rename(2) replaces the old file atomically: a reader sees the old cache or the new one.
    guard rename(temporary.path, url.path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw CocoaError(
        .fileWriteUnknown,
        userInfo: [NSFilePathErrorKey: url.path, NSLocalizedDescriptionKey: reason]
      )
    }
  }
}

extension EmbeddingCache {
  /// Vectors of `texts` by `embedder`: those of texts embedded before are read from
  /// `<cacheFolder>/<cacheName>.embeddings`, the rest are embedded, and the file is rewritten with
  /// exactly these texts' vectors (nil folder: nothing is kept). Also returns how many distinct
  /// texts had to be embedded.
  public static func embed(
    _ texts: [String],
    with embedder: any TextEmbedder,
    cacheFolder: String?,
    cacheName: String
  ) throws -> (vectors: [[Float]], embedded: Int) {
    let keys = texts.map(hash)
    let cache = cacheFolder.map {
      EmbeddingCache(folder: $0, fingerprint: cacheName, dimension: embedder.dimension)
    }
    var known = cache?.load() ?? [:]
    var missing: [Int] = []
    var seen = Set<UInt64>()
    for (i, key) in keys.enumerated() where known[key] == nil && seen.insert(key).inserted {
      missing.append(i)
    }
    let fresh = try embedder.embed(missing.map { texts[$0] })
    guard fresh.count == missing.count else {
      throw SnippetIndex.EmbeddingError.wrongCount(got: fresh.count, expected: missing.count)
    }
    for (i, vector) in zip(missing, fresh) {
      guard vector.count == embedder.dimension else {
        throw SnippetIndex.EmbeddingError.wrongDimension(got: vector.count, expected: embedder.dimension)
      }
      known[keys[i]] = vector
    }
    let vectors = keys.map { known[$0]! }
    if let cache, !missing.isEmpty || known.count != Set(keys).count {
      var written = Set<UInt64>()
      try? cache.store(zip(keys, vectors).filter { written.insert($0.0).inserted }.map { ($0.0, $0.1) })
    }
    return (vectors, missing.count)
  }
}
