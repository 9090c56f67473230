/// The original Porter stemming algorithm (M. F. Porter, "An algorithm for suffix stripping",
/// 1980), as SQLite's FTS5 `porter` tokenizer applies it: lowercase ASCII words of 3 to 64
/// letters are stemmed; anything else passes through unchanged.
/// Reference: https://tartarus.org/martin/PorterStemmer/def.txt
enum PorterStemmer {
  static func stem(_ word: String) -> String {
    let utf8 = Array(word.utf8)
    guard utf8.count >= 3, utf8.count <= 64, utf8.allSatisfy({ $0 >= 0x61 && $0 <= 0x7A }) else {
      return word
    }
    var w = Word(b: utf8)
    w.step1a()
    w.step1b()
    w.step1c()
    w.step2()
    w.step3()
    w.step4()
    w.step5()
    return String(decoding: w.b, as: UTF8.self)
  }

  private struct Word {
    var b: [UInt8]

    func isConsonant(_ i: Int) -> Bool {
      switch b[i] {
      case 0x61, 0x65, 0x69, 0x6F, 0x75: return false  // a e i o u
      case 0x79: return i == 0 ? true : !isConsonant(i - 1)  // y
      default: return true
      }
    }

    /// m(): the number of VC sequences in b[0..<end].
    func measure(_ end: Int) -> Int {
      var n = 0
      var i = 0
      while i < end, isConsonant(i) { i += 1 }
      while i < end {
        while i < end, !isConsonant(i) { i += 1 }
        guard i < end else { break }
        n += 1
        while i < end, isConsonant(i) { i += 1 }
      }
      return n
    }

    func hasVowel(_ end: Int) -> Bool { (0 ..< end).contains { !isConsonant($0) } }

    func endsDoubleConsonant(_ end: Int) -> Bool {
      end >= 2 && b[end - 1] == b[end - 2] && isConsonant(end - 1)
    }

    /// cvc(i): consonant-vowel-consonant ending at end-1, the last not w, x or y.
    func endsCVC(_ end: Int) -> Bool {
      guard end >= 3, isConsonant(end - 1), !isConsonant(end - 2), isConsonant(end - 3) else { return false }
      let c = b[end - 1]
      return c != 0x77 && c != 0x78 && c != 0x79
    }

    func ends(_ suffix: StaticString) -> Bool {
      let n = suffix.utf8CodeUnitCount
      guard b.count >= n else { return false }
      return suffix.withUTF8Buffer { s in
        var i = 0
        while i < n {
          if b[b.count - n + i] != s[i] { return false }
          i += 1
        }
        return true
      }
    }

    /// Replaces `suffix` by `replacement` when the stem before it has measure > `minimum`.
    @discardableResult
    mutating func replace(
      _ suffix: StaticString,
      _ replacement: StaticString,
      ifMeasureAbove minimum: Int
    ) -> Bool {
      guard ends(suffix) else { return false }
      let n = suffix.utf8CodeUnitCount
      if measure(b.count - n) > minimum {
        b.removeLast(n)
        replacement.withUTF8Buffer { b.append(contentsOf: $0) }
      }
      return true
    }

    mutating func step1a() {
      if ends("sses") {
        b.removeLast(2)
      } else if ends("ies") {
        b.removeLast(2)
      } else if ends("ss") {
      } else if ends("s") {
        b.removeLast()
      }
    }

    mutating func step1b() {
      var removed = false
      if ends("eed") {
        if measure(b.count - 3) > 0 { b.removeLast() }
      } else if ends("ed"), hasVowel(b.count - 2) {
        b.removeLast(2)
        removed = true
      } else if ends("ing"), hasVowel(b.count - 3) {
        b.removeLast(3)
        removed = true
      }
      guard removed else { return }
      if ends("at") || ends("bl") || ends("iz") {
        b.append(0x65)
      } else if endsDoubleConsonant(b.count), let last = b.last, last != 0x6C, last != 0x73, last != 0x7A {
        b.removeLast()
      } else if measure(b.count) == 1, endsCVC(b.count) {
        b.append(0x65)
      }
    }

    mutating func step1c() {
      if ends("y"), hasVowel(b.count - 1) { b[b.count - 1] = 0x69 }
    }

    mutating func step2() {
      let rules: [(StaticString, StaticString)] = [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
        ("abli", "able"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
        ("ization", "ize"),
        ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"),
        ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
      ]
      for (suffix, replacement) in rules where replace(suffix, replacement, ifMeasureAbove: 0) { return }
    }

    mutating func step3() {
      let rules: [(StaticString, StaticString)] = [
        ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""),
        ("ness", ""),
      ]
      for (suffix, replacement) in rules where replace(suffix, replacement, ifMeasureAbove: 0) { return }
    }

    mutating func step4() {
      // Longest first: the longest matching suffix decides ("ement" before "ment" before "ent").
      let suffixes: [StaticString] = [
        "ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ion", "ism", "ate", "iti", "ous",
        "ive",
        "ize", "al", "er", "ic", "ou",
      ]
      for suffix in suffixes where ends(suffix) {
        let n = suffix.utf8CodeUnitCount
        let stemEnd = b.count - n
        if n == 3, suffix.withUTF8Buffer({ $0[0] == 0x69 && $0[1] == 0x6F && $0[2] == 0x6E }) {  // "ion"
          guard stemEnd > 0, b[stemEnd - 1] == 0x73 || b[stemEnd - 1] == 0x74 else { return }
        }
        if measure(stemEnd) > 1 { b.removeLast(n) }
        return
      }
    }

    mutating func step5() {
      if ends("e") {
        let m = measure(b.count - 1)
        if m > 1 || (m == 1 && !endsCVC(b.count - 1)) { b.removeLast() }
      }
      if measure(b.count) > 1, endsDoubleConsonant(b.count), b.last == 0x6C { b.removeLast() }
    }
  }
}
