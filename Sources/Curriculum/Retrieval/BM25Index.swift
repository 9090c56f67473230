import Foundation

/// An in-memory inverted index scored exactly as SQLite FTS5's `bm25()` scores a table with
/// weighted columns: per query term, the column-weighted term frequency f, the row's total token
/// count D and the average avgdl give idf · f(k1+1) / (f + k1(1 − b + b·D/avgdl)), with
/// idf = ln((N − n + 0.5)/(n + 0.5)) (or 1e-6 when not positive), k1 = 1.2, b = 0.75.
///
/// It exists because FTS5 computes that score row by row through SQL and so needs 7 ms for a
/// query over 100,000 snippets, where accumulating over postings arrays takes well under one
/// (`tutor bench retrieval`); `BM25IndexTests` checks that both rank the same.
struct BM25Index: Sendable {
  static let k1 = 1.2
  static let b = 0.75

  /// Sorted index terms, for prefix lookups; `postings[i]` belongs to `terms[i]`.
  private let terms: [String]
  private let termIds: [String: Int]
  private let postings: [Postings]
  /// Token count of each document, all columns together.
  private let lengths: [Float]
  private let averageLength: Double

  struct Postings: Sendable {
    var documents: [Int32] = []
    /// Column-weighted term frequency in each document.
    var frequencies: [Float] = []
  }

  var documentCount: Int { lengths.count }

  /// - Parameters:
  ///   - documents: each document's columns, in the order of `weights`.
  ///   - weights: the weight of a hit in each column.
  init(documents: [[String]], weights: [Double]) {
    var ids: [String: Int] = [:]
    var lists: [Postings] = []
    var lengths: [Float] = []
    lengths.reserveCapacity(documents.count)
    var local: [Int: Float] = [:]
    // Folded word → term id: each distinct word is stemmed once.
    var known: [String: Int] = [:]
    for (d, columns) in documents.enumerated() {
      local.removeAll(keepingCapacity: true)
      var length = 0
      for (c, text) in columns.enumerated() {
        let w = Float(c < weights.count ? weights[c] : 1)
        TextAnalyzer.forEachFoldedToken(text) { word in
          length += 1
          let id: Int
          if let cached = known[word] {
            id = cached
          } else {
            let token = PorterStemmer.stem(word)
            if let existing = ids[token] {
              id = existing
            } else {
              id = lists.count
              ids[token] = id
              lists.append(Postings())
            }
            known[word] = id
          }
          local[id, default: 0] += w
        }
      }
      lengths.append(Float(length))
      for (id, f) in local {
        lists[id].documents.append(Int32(d))
        lists[id].frequencies.append(f)
      }
    }
    // Documents were appended in order, so every postings list is sorted by document.
    let order = ids.keys.sorted()
    terms = order
    var sortedIds: [String: Int] = [:]
    var sortedLists: [Postings] = []
    sortedLists.reserveCapacity(order.count)
    for (i, term) in order.enumerated() {
      sortedIds[term] = i
      sortedLists.append(lists[ids[term]!])
    }
    termIds = sortedIds
    postings = sortedLists
    self.lengths = lengths
    let total = lengths.reduce(0.0) { $0 + Double($1) }
    averageLength = documents.isEmpty ? 1 : max(total / Double(documents.count), 1e-9)
  }

  /// The postings lists a query term stands for: one for a word's stemmed tokens, or every term
  /// with a prefix.
  private func lists(for term: QueryAnalyzer.Term) -> [[Int]] {
    switch term {
    case .word(let w):
      // A word that analyses to several tokens (a multi-word synonym) searches each.
      return TextAnalyzer.tokens(w).compactMap { termIds[$0].map { [$0] } }
    case .prefix(let raw):
      // FTS5 runs a prefix through the tokenizer too: "multiply*" finds "multipli".
      let p = PorterStemmer.stem(raw)
      guard !p.isEmpty else { return [] }
      var lo = 0
      var hi = terms.count
      while lo < hi {
        let mid = (lo + hi) / 2
        if terms[mid] < p { lo = mid + 1 } else { hi = mid }
      }
      var matching: [Int] = []
      var i = lo
      while i < terms.count, terms[i].hasPrefix(p) {
        matching.append(i)
        i += 1
      }
      return matching.isEmpty ? [] : [matching]
    }
  }

  /// BM25 scores of every document matching any term (documents outside `range` are skipped,
  /// as a rowid constraint does in FTS5; the collection statistics stay global).
  func scores(
    for queryTerms: [QueryAnalyzer.Term],
    in range: Range<Int>? = nil
  ) -> [(document: Int, score: Double)] {
    let n = lengths.count
    guard n > 0 else { return [] }
    var score = [Double](repeating: 0, count: n)
    var touched: [Int] = []
    var isTouched = [Bool](repeating: false, count: n)
    var frequency = [Float](repeating: 0, count: n)
    var phraseDocuments: [Int] = []
    for term in queryTerms {
      // Each query term counts on its own, even when two stand for the same index terms (a word and
      // its prefix), as FTS5 counts each phrase of a query.
      for phrase in lists(for: term) {
        // Gather f(d) for this phrase (a prefix sums its terms).
        phraseDocuments.removeAll(keepingCapacity: true)
        for id in phrase {
          let p = postings[id]
          for (k, d32) in p.documents.enumerated() {
            let d = Int(d32)
            if frequency[d] == 0 { phraseDocuments.append(d) }
            frequency[d] += p.frequencies[k]
          }
        }
        let containing = Double(phraseDocuments.count)
        var idf = log((Double(n) - containing + 0.5) / (containing + 0.5))
        if idf <= 0 { idf = 1e-6 }
        for d in phraseDocuments {
          let f = Double(frequency[d])
          frequency[d] = 0
          if let range, !range.contains(d) { continue }
          let denominator = f + Self.k1 * (1 - Self.b + Self.b * Double(lengths[d]) / averageLength)
          if !isTouched[d] {
            isTouched[d] = true
            touched.append(d)
          }
          score[d] += idf * f * (Self.k1 + 1) / denominator
        }
      }
    }
    return touched.map { ($0, score[$0]) }
  }
}
