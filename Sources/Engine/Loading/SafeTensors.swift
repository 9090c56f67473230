import Foundation

/// One `.safetensors` file, memory-mapped, with its header parsed and checked.
///
/// Format: an 8-byte little-endian header length, a JSON header mapping tensor names to
/// `{dtype, shape, data_offsets}`, then the raw little-endian data.
/// See https://github.com/huggingface/safetensors#format.
public final class SafeTensorsFile: Sendable {
  /// Element types the engine reads.
  public enum DType: String, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    var byteCount: Int { self == .f32 ? 4 : 2 }
  }

  /// Where one tensor lives in the file.
  public struct TensorInfo: Sendable {
    public var name: String
    /// `nil` for dtypes the engine cannot read (kept so that the error can name them).
    public var dtype: DType?
    public var dtypeName: String
    public var shape: [Int]
    /// Byte range relative to the start of the file.
    public var range: Range<Int>
  }

  public let path: String
  public let tensors: [String: TensorInfo]
  let file: MappedFile

  public init(path: String) throws {
    let file = try MappedFile(path: path)
    self.file = file
    self.path = path
    func corrupt(_ reason: String) -> EngineError { .corruptSafetensors(path: path, reason: reason) }

    guard file.size >= 8 else { throw corrupt("\(file.size) bytes is too short for a header") }
    let headerLength = Int(UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self)))
    guard headerLength > 0, headerLength <= file.size - 8 else {
      throw corrupt("header length \(headerLength) exceeds the file size \(file.size)")
    }
    let headerData = Data(bytes: file.base + 8, count: headerLength)
    guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
      throw corrupt("header is not a JSON object")
    }
    let dataStart = 8 + headerLength
    var tensors: [String: TensorInfo] = [:]
    for (name, value) in json where name != "__metadata__" {
      guard let entry = value as? [String: Any],
        let dtypeName = entry["dtype"] as? String,
        let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
        let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
        offsets.count == 2, shape.allSatisfy({ $0 >= 0 })
      else { throw corrupt("malformed header entry for tensor '\(name)'") }
      let dtype = DType(rawValue: dtypeName)
      let begin = dataStart + offsets[0]
      let end = dataStart + offsets[1]
      guard offsets[0] >= 0, begin <= end else {
        throw corrupt("tensor '\(name)' has invalid data_offsets \(offsets)")
      }
      guard end <= file.size else {
        throw corrupt(
          "tensor '\(name)' ends at byte \(end) but the file has \(file.size) bytes (truncated?)"
        )
      }
      if let dtype {
        let expected = shape.reduce(1, *) * dtype.byteCount
        guard end - begin == expected else {
          throw corrupt(
            "tensor '\(name)' holds \(end - begin) bytes, \(dtypeName) \(shape) needs \(expected)"
          )
        }
      }
      tensors[name] = TensorInfo(
        name: name,
        dtype: dtype,
        dtypeName: dtypeName,
        shape: shape,
        range: begin ..< end
      )
    }
    self.tensors = tensors
  }

  /// The raw bytes of a tensor, valid while this object lives.
  func bytes(of info: TensorInfo) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: file.base + info.range.lowerBound, count: info.range.count)
  }
}
