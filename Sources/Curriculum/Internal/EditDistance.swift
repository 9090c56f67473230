/// Levenshtein distance, for "did you mean" suggestions on unknown keys and ids.
func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a)
  let b = Array(b)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var previous = Array(0 ... b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1 ... a.count {
    current[0] = i
    for j in 1 ... b.count {
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
    }
    swap(&previous, &current)
  }
  return previous[b.count]
}

/// The closest candidate within a small distance, for a "did you mean 'x'?" hint.
func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
  let best = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
  guard let best, best.1 <= max(2, word.count / 3) else { return nil }
  return best.0
}

/// `; did you mean 'x'?` or nothing.
func didYouMean(_ word: String, among candidates: some Sequence<String>) -> String {
  suggestion(for: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
}
