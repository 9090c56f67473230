import CEngineKernels

/// The matrix products of every architecture's forward pass, spread over a pool's threads.
extension WorkerPool {
  /// y = x · Wᵀ + b over `rows` rows, the output columns split across threads; `activation`, if
  /// any, is applied by each thread to the columns it computed while they are in its cache.
  /// `limit` 1 runs the whole product on the calling thread.
  func linear(
    _ x: UnsafePointer<Float>,
    rows m: Int,
    weight: WeightTensor,
    bias: WeightTensor?,
    into y: UnsafeMutablePointer<Float>,
    activation: Activation? = nil,
    limit: Int? = nil
  ) {
    let n = weight.shape[0]
    let chunks = columnChunks(rows: m, weight: weight)
    run(chunks.count, limit: limit) { chunk in
      let columns = chunks[chunk]
      weight.linear(x, rows: m, bias: bias?.pointer, into: y, columns: columns)
      if let activation {
        for row in 0 ..< m {
          WorkerPool.apply(activation, to: y + row * n + columns.lowerBound, count: columns.count)
        }
      }
    }
  }

  /// Pieces per thread of a product's output columns. The pool hands pieces out as threads come
  /// free, so a thread the machine delays for a moment leaves the others a small piece rather
  /// than a quarter of its share: on the shared 2-core VM, 16 against 4 took batch-1 decode of
  /// the 1.3B shape (float16) from 84–88% to 94–95% of the rate a plain read of the weights
  /// reaches (`tutor bench engine`'s paired steps), the 125M shape from 92–94% to 96%.
  static let chunksPerThread = 16

  /// The output columns of `weight` split for the threads: small products in one piece, larger
  /// ones in up to ``chunksPerThread`` pieces a thread, each a multiple of 16 columns (whole
  /// panels of a packed matrix) but the last.
  func columnChunks(rows m: Int, weight: WeightTensor) -> [Range<Int>] {
    let n = weight.shape[0]
    let count = m * n * weight.shape[1] < 1 << 16 ? 1 : min(threads * Self.chunksPerThread, max(1, n / 16))
    let per = ((n + count - 1) / count + 15) / 16 * 16
    return stride(from: 0, to: n, by: per).map { $0 ..< min(n, $0 + per) }
  }

  /// Several projections of the same input (the attention's query, key and value) as
  /// one parallel loop over all their column chunks: one join instead of three, and the threads
  /// balance over three times as many chunks. Each output is computed exactly as by ``linear``.
  func linear(
    _ x: UnsafePointer<Float>,
    rows m: Int,
    parts: [(weight: WeightTensor, bias: WeightTensor?, into: UnsafeMutablePointer<Float>)],
    limit: Int? = nil
  ) {
    let chunks = parts.indices.flatMap { part in
      columnChunks(rows: m, weight: parts[part].weight).map { (part: part, columns: $0) }
    }
    run(chunks.count, limit: limit) { index in
      let (part, columns) = chunks[index]
      parts[part].weight.linear(
        x,
        rows: m,
        bias: parts[part].bias?.pointer,
        into: parts[part].into,
        columns: columns
      )
    }
  }

  static func apply(_ activation: Activation, to x: UnsafeMutablePointer<Float>, count: Int) {
    switch activation {
    case .geluNew: gn_gelu_new(x, count)
    case .gelu: gn_gelu_erf(x, count)
    case .geluFast: gn_gelu_fast(x, count)
    case .relu: gn_relu(x, count)
    case .silu: gn_silu(x, count)
    }
  }
}
