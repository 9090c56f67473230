import Foundation

/// The bytes of an export as they are written: exports append UTF-8 straight into one growing
/// buffer instead of building a `String` per field, which is what makes a million-row export run
/// at hundreds of thousands of rows a second.
struct ExportBytes {
  var bytes: [UInt8] = []

  init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

  var count: Int { bytes.count }

  mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

  mutating func append(_ text: StaticString) {
    text.withUTF8Buffer { bytes.append(contentsOf: $0) }
  }

  mutating func append(_ text: String) {
    bytes.append(contentsOf: text.utf8)
  }

  mutating func append(byte: UInt8) { bytes.append(byte) }

  /// A non-negative or negative integer in decimal, without an intermediate `String`.
  mutating func append(decimal value: Int) {
    if value < 0 {
      bytes.append(UInt8(ascii: "-"))
      append(unsigned: value.magnitude, width: 1)
    } else {
      append(unsigned: UInt(value), width: 1)
    }
  }

  /// `value` in decimal, zero-padded to at least `width` digits.
  mutating func append(unsigned value: UInt, width: Int) {
    var length = 1
    var rest = value
    while rest >= 10 {
      rest /= 10
      length += 1
    }
    let end = bytes.count + max(length, width)
    bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(length, width)))
    var i = end - 1
    rest = value
    while rest > 0 {
      bytes[i] = UInt8(ascii: "0") + UInt8(rest % 10)
      rest /= 10
      i -= 1
    }
  }

  // MARK: JSON

  /// A JSON string literal, quotes included (RFC 8259: `"`, `\` and control characters escaped).
  mutating func append(json text: String) {
    bytes.append(UInt8(ascii: "\""))
    append(jsonContent: text)
    bytes.append(UInt8(ascii: "\""))
  }

  /// What goes between the quotes of a JSON string literal.
  mutating func append(jsonContent text: String) {
    var text = text
    text.withUTF8 { utf8 in
      var start = 0
      for i in 0 ..< utf8.count {
        let byte = utf8[i]
        guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start ..< i]))
        start = i + 1
        switch byte {
        case UInt8(ascii: "\""): append("\\\"")
        case UInt8(ascii: "\\"): append("\\\\")
        case 0x0A: append("\\n")
        case 0x0D: append("\\r")
        case 0x09: append("\\t")
        default:
          append("\\u00")
          bytes.append(Self.hexDigits[Int(byte >> 4)])
          bytes.append(Self.hexDigits[Int(byte & 0xF)])
        }
      }
      bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
    }
  }

  /// A JSON array of strings.
  mutating func append(jsonArray values: [String]) {
    bytes.append(UInt8(ascii: "["))
    for (i, value) in values.enumerated() {
      if i > 0 { bytes.append(UInt8(ascii: ",")) }
      append(json: value)
    }
    bytes.append(UInt8(ascii: "]"))
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  // MARK: CSV and TSV

  /// An RFC 4180 field: quoted, with quotes doubled, when it holds a comma, quote or line break.
  mutating func append(csv text: String) {
    let needsQuotes = text.utf8.contains {
      $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D
    }
    guard needsQuotes else { return append(text) }
    bytes.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      if byte == UInt8(ascii: "\"") { bytes.append(byte) }
      bytes.append(byte)
    }
    bytes.append(UInt8(ascii: "\""))
  }

  /// A tab-separated field: tabs and line breaks, which would split the row, become spaces (a CR
  /// LF pair becomes one space).
  mutating func append(tsv text: String) {
    var previous: UInt8 = 0
    for byte in text.utf8 {
      defer { previous = byte }
      switch byte {
      case 0x09, 0x0D: bytes.append(UInt8(ascii: " "))
      case 0x0A where previous != 0x0D: bytes.append(UInt8(ascii: " "))
      case 0x0A: break
      default: bytes.append(byte)
      }
    }
  }

  // MARK: Times

  /// `2026-01-01T08:30:00.250Z` (ISO 8601, UTC, milliseconds).
  mutating func append(iso8601 ms: Int64) {
    appendDateTime(ms, separator: UInt8(ascii: "T"))
    bytes.append(UInt8(ascii: "Z"))
  }

  /// `2026-01-01 08:30:00.250` (DataShop's format; the zone goes in its own column).
  mutating func append(dataShopTime ms: Int64) {
    appendDateTime(ms, separator: UInt8(ascii: " "))
  }

  private mutating func appendDateTime(_ ms: Int64, separator: UInt8) {
    var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
    let millis = UInt(ms - Int64(seconds) * 1000)
    var t = tm()
    gmtime_r(&seconds, &t)
    append(unsigned: UInt(max(0, t.tm_year + 1900)), width: 4)
    bytes.append(UInt8(ascii: "-"))
    append(unsigned: UInt(t.tm_mon + 1), width: 2)
    bytes.append(UInt8(ascii: "-"))
    append(unsigned: UInt(t.tm_mday), width: 2)
    bytes.append(separator)
    append(unsigned: UInt(t.tm_hour), width: 2)
    bytes.append(UInt8(ascii: ":"))
    append(unsigned: UInt(t.tm_min), width: 2)
    bytes.append(UInt8(ascii: ":"))
    append(unsigned: UInt(t.tm_sec), width: 2)
    bytes.append(UInt8(ascii: "."))
    append(unsigned: millis, width: 3)
  }

  /// Milliseconds as decimal seconds: `1.25`, `3`.
  mutating func append(seconds ms: Int) {
    let ms = max(0, ms)
    append(unsigned: UInt(ms / 1000), width: 1)
    var rest = ms % 1000
    guard rest != 0 else { return }
    bytes.append(UInt8(ascii: "."))
    var width = 3
    while rest % 10 == 0 {
      rest /= 10
      width -= 1
    }
    append(unsigned: UInt(rest), width: width)
  }

  /// An ISO 8601 duration in seconds: `PT1.25S`.
  mutating func append(duration ms: Int) {
    append("PT")
    append(seconds: ms)
    bytes.append(UInt8(ascii: "S"))
  }

  // MARK: IRIs

  /// `text` as one URI path segment: unreserved characters as they are, everything else
  /// percent-encoded (activity ids are IRIs and must not carry spaces or slashes).
  mutating func append(pathSegment text: String) {
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a") ... UInt8(ascii: "z"), UInt8(ascii: "A") ... UInt8(ascii: "Z"),
        UInt8(ascii: "0") ... UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
        UInt8(ascii: "~"):
        bytes.append(byte)
      default:
        bytes.append(UInt8(ascii: "%"))
        bytes.append(Self.hexDigitsUpper[Int(byte >> 4)])
        bytes.append(Self.hexDigitsUpper[Int(byte & 0xF)])
      }
    }
  }

  private static let hexDigitsUpper = Array("0123456789ABCDEF".utf8)
}
