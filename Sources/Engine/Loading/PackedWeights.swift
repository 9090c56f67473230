import CEngineKernels
import Foundation

/// A checkpoint's weights as the engine holds them — packed into the kernels' panels, converted or
/// quantised to the weight format — in one file that a later start maps instead of repacking.
///
/// Loading a checkpoint reads every matrix and repacks it (and for int8 quantises it): seconds for
/// the 1.3B and 2.7B shapes. With a packed file, `GPTNeoModel.load` maps it read-only and points
/// the tensors into the mapping: nothing is copied, pages come in as the first passes touch them,
/// and several processes serving the same model share those pages through the page cache.
///
/// The file is keyed by a fingerprint of the source: `config.json`, and each safetensors file's
/// name, size, modification time and first MiB (its header: every tensor's name, dtype, shape and
/// offsets). A changed checkpoint gets a new fingerprint, hence a new file, and the stale one is
/// deleted when the new one is written. The full contents are not hashed: that would read the
/// whole checkpoint on every start, which is what the file is there to avoid.
///
/// Layout: `TUTORPK1`, the header's length (UInt64, little-endian), the header (JSON: version,
/// fingerprint, format, and per tensor its name, shape, kind and blobs' offsets and sizes), then
/// the blobs, each at a multiple of 64 bytes.
enum PackedWeights {
  static let magic = Array("TUTORPK1".utf8)
  static let version = 1

  struct Header: Codable {
    struct Tensor: Codable {
      var name: String
      var shape: [Int]
      var kind: String
      var offsets: [Int]
      var sizes: [Int]
    }
    var version: Int
    var fingerprint: String
    var format: String
    var tensors: [Tensor]
  }

  /// The fingerprint of the checkpoint in `directory` as loaded in `format`.
  static func fingerprint(directory: URL, format: WeightFormat) throws -> String {
    let fm = FileManager.default
    let names = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? [])
      .filter { $0.hasSuffix(".safetensors") || $0 == "model.safetensors.index.json" || $0 == "config.json" }
      .sorted()
    var h = gn_fingerprint64("v\(version) \(format.rawValue)", "v\(version) \(format.rawValue)".utf8.count, 0)
    for name in names {
      let path = directory.appendingPathComponent(name).path
      let attributes = try fm.attributesOfItem(atPath: path)
      let size = (attributes[.size] as? Int) ?? 0
      let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
      let identity = "\(name) \(size) \(modified)"
      h = gn_fingerprint64(identity, identity.utf8.count, h)
      guard size > 0, let handle = FileHandle(forReadingAtPath: path) else { continue }
      defer { try? handle.close() }
      let head = try handle.read(upToCount: 1 << 20) ?? Data()
      h = head.withUnsafeBytes { gn_fingerprint64($0.baseAddress, $0.count, h) }
    }
    return String(h, radix: 16)
  }

  /// Where the packed file of `modelDirectory` in `format` lives in `cacheDirectory`.
  static func url(cacheDirectory: URL, modelDirectory: URL, format: WeightFormat, fingerprint: String) -> URL
  {
    cacheDirectory.appendingPathComponent(
      "\(prefix(modelDirectory: modelDirectory, format: format))\(fingerprint).packed"
    )
  }

  private static func prefix(modelDirectory: URL, format: WeightFormat) -> String {
    let name = modelDirectory.standardizedFileURL.lastPathComponent
    let path = modelDirectory.standardizedFileURL.path
    let tag = String(gn_fingerprint64(path, path.utf8.count, 0) & 0xFFFF_FFFF, radix: 16)
    return "\(name)-\(tag)-\(format.rawValue)-"
  }

  /// Writes `weights` to `url` (atomically: a temporary file renamed over it) and deletes the
  /// stale packed files of the same model and format beside it.
  static func write(
    _ weights: GPTNeoWeights,
    format: WeightFormat,
    fingerprint: String,
    to url: URL,
    modelDirectory: URL
  ) throws {
    let fm = FileManager.default
    try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    var tensors: [Header.Tensor] = []
    var blobs: [UnsafeRawBufferPointer] = []
    var offset = 0
    for (name, tensor) in weights.namedTensors {
      var offsets: [Int] = []
      var sizes: [Int] = []
      for blob in tensor.blobs {
        offset = (offset + 63) / 64 * 64
        offsets.append(offset)
        sizes.append(blob.count)
        blobs.append(blob)
        offset += blob.count
      }
      tensors.append(
        .init(name: name, shape: tensor.shape, kind: tensor.kind, offsets: offsets, sizes: sizes)
      )
    }
    // Offsets so far are relative to the data area, which starts after the header, at a
    // multiple of 64; the header is encoded twice so that it can hold its own length's effect.
    func encoded(_ base: Int) throws -> Data {
      let shifted = tensors.map { t in
        var t = t
        t.offsets = t.offsets.map { $0 + base }
        return t
      }
      return try JSONEncoder().encode(
        Header(version: version, fingerprint: fingerprint, format: format.rawValue, tensors: shifted)
      )
    }
    var base = 0
    var header = try encoded(base)
    while (16 + header.count + 63) / 64 * 64 != base {
      base = (16 + header.count + 63) / 64 * 64
      header = try encoded(base)
    }
    let temporary = url.appendingPathExtension("tmp-\(getpid())")
    guard fm.createFile(atPath: temporary.path, contents: nil),
      let handle = FileHandle(forWritingAtPath: temporary.path)
    else { throw EngineError.cannotWrite(path: temporary.path, reason: String(cString: strerror(errno))) }
    do {
      var length = UInt64(header.count).littleEndian
      var start = Data(magic)
      start.append(Data(bytes: &length, count: 8))
      start.append(header)
      start.append(Data(count: base - start.count))
      try handle.write(contentsOf: start)
      var written = base
      for (blob, target) in zip(blobs, tensors.flatMap(\.offsets)) {
        if target + base > written { try handle.write(contentsOf: Data(count: target + base - written)) }
        try handle.write(
          contentsOf: Data(
            bytesNoCopy: UnsafeMutableRawPointer(mutating: blob.baseAddress!),
            count: blob.count,
            deallocator: .none
          )
        )
        written = target + base + blob.count
      }
      try handle.synchronize()
      try handle.close()
      guard rename(temporary.path, url.path) == 0 else {
        throw EngineError.cannotWrite(path: url.path, reason: String(cString: strerror(errno)))
      }
    } catch {
      try? handle.close()
      try? fm.removeItem(at: temporary)
      throw error
    }
    let stale = prefix(modelDirectory: modelDirectory, format: format)
    for name in (try? fm.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)) ?? []
    where name.hasPrefix(stale) && name.hasSuffix(".packed") && name != url.lastPathComponent {
      try? fm.removeItem(at: url.deletingLastPathComponent().appendingPathComponent(name))
    }
  }

  /// The tensors of the packed file at `url`, if it exists and was made from this fingerprint in
  /// this format; nil otherwise (the caller loads the checkpoint and writes a new one).
  static func open(url: URL, fingerprint: String, format: WeightFormat) throws -> Source? {
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    let file = try MappedFile(path: url.path)
    guard file.size >= 16, Array(UnsafeRawBufferPointer(start: file.base, count: 8)) == magic else {
      return nil
    }
    let length = Int(UInt64(littleEndian: file.base.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    guard length > 0, 16 + length <= file.size else { return nil }
    let header = try JSONDecoder().decode(
      Header.self,
      from: Data(bytes: file.base + 16, count: length)
    )
    guard header.version == version, header.fingerprint == fingerprint, header.format == format.rawValue
    else {
      return nil
    }
    for t in header.tensors {
      for (o, s) in zip(t.offsets, t.sizes) where o < 0 || s < 0 || o + s > file.size || o % 64 != 0 {
        return nil
      }
    }
    return Source(file: file, entries: Dictionary(header.tensors.map { ($0.name, $0) }) { a, _ in a })
  }

  /// Tensors served from a mapped packed file.
  struct Source: TensorSource {
    let file: MappedFile
    let entries: [String: Header.Tensor]

    func contains(_ name: String) -> Bool { entries[name] != nil }

    func tensor(_ name: String, shape: [Int], format: WeightFormat?) throws -> WeightTensor {
      guard let entry = entries[name] else {
        throw EngineError.missingTensor(name: name, directory: file.path)
      }
      let kind =
        switch format {
        case nil: "f32"
        case .float32: "packed-f32"
        case .float16: "packed-f16"
        case .int8: "packed-q8"
        }
      guard entry.shape == shape, entry.kind == kind else {
        throw EngineError.shapeMismatch(name: name, expected: shape, actual: entry.shape, path: file.path)
      }
      let count = shape.reduce(1, *)
      let packed = shape.count == 2 ? max(gn_packed_count(shape[0], shape[1]), 1) : 0
      let expected =
        switch kind {
        case "f32": [count * 4]
        case "packed-f32": [packed * 4]
        case "packed-f16": [packed * 2]
        default: [packed, shape[0] * 4]
        }
      guard entry.sizes == expected else {
        throw EngineError.corruptSafetensors(path: file.path, reason: "tensor \(name) has the wrong size")
      }
      return try WeightTensor(
        shape: shape,
        kind: kind,
        parts: entry.offsets.map { file.base + $0 },
        mapping: file
      )
    }
  }
}
