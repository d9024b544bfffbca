import TagganCore

/// Element-wise kernels the layers and optimisers need beyond `VectorKernels`, on the
/// same 16-lane SIMD pattern (`+`, `*`, comparisons and `replace(with:where:)` only, so
/// the compiler emits packed instructions). Internal: the layers are the public surface.
enum LayerKernels {
    typealias Lanes = SIMD16<Float>
    static let width = Lanes.scalarCount

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Lanes {
        UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Lanes.self)
    }

    /// y[r, :] += b for every row r of the rows x n matrix y.
    static func addRowVector(_ b: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows: Int, columns n: Int) {
        for r in 0..<rows { VectorKernels.axpy(1, b, y + r * n, count: n) }
    }

    /// y[r, :] = max(y[r, :] + b, 0) for every row r: a linear layer's bias and its ReLU in
    /// one pass over y (the same operations, in the same order, as the two passes).
    static func addRowVectorReLU(_ b: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows: Int, columns n: Int) {
        let zero = Lanes()
        for r in 0..<rows {
            let row = y + r * n
            var i = 0
            while i + width <= n {
                var v = load(UnsafePointer(row), i) + load(b, i)
                v.replace(with: zero, where: v .< zero)
                store(v, row, i)
                i += width
            }
            while i < n {
                let v = row[i] + b[i]
                row[i] = v < 0 ? 0 : v
                i += 1
            }
        }
    }

    /// y[r, :] = b for every row r of the rows x n matrix y.
    static func fillRows(_ y: UnsafeMutablePointer<Float>, with b: UnsafePointer<Float>, rows: Int, columns n: Int) {
        for r in 0..<rows { (y + r * n).update(from: b, count: n) }
    }

    /// db[c] = sum_r dy[r, c] (added to db when `accumulate`).
    static func columnSums(_ dy: UnsafePointer<Float>, rows: Int, columns n: Int,
                           into db: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if !accumulate { db.update(repeating: 0, count: n) }
        for r in 0..<rows { VectorKernels.axpy(1, dy + r * n, db, count: n) }
    }

    /// dy[i] = 0 where y[i] <= 0: the ReLU derivative, read from the ReLU's output.
    static func reluBackward(output y: UnsafePointer<Float>, gradient dy: UnsafeMutablePointer<Float>, count n: Int) {
        let zero = Lanes()
        var i = 0
        while i + width <= n {
            var g = load(UnsafePointer(dy), i)
            g.replace(with: zero, where: load(y, i) .<= zero)
            store(g, dy, i)
            i += width
        }
        while i < n {
            if y[i] <= 0 { dy[i] = 0 }
            i += 1
        }
    }

    /// Fills `mask` with 0 (dropped, probability `rate`) or 1 / (1 - rate) (kept).
    /// Each 64-bit draw gives four 16-bit uniforms, so the keep probability is exact to
    /// 1/65536 and a mask costs a quarter of a generator call per value.
    static func dropoutMask(_ mask: UnsafeMutablePointer<Float>, count n: Int, rate: Float,
                            random: inout SeededRandom) {
        applyDropout(mask, to: nil, count: n, rate: rate, random: &random)
    }

    /// `dropoutMask` and x *= mask in the same pass (x nil: the mask alone). The same
    /// draws, in the same order, as the mask on its own: value i takes bits
    /// 16 (i % 4) ..< 16 (i % 4) + 16 of draw i / 4. The draws are made in blocks
    /// (`SeededRandom.fill`) and turned into 16 mask values at a time.
    static func applyDropout(_ mask: UnsafeMutablePointer<Float>, to x: UnsafeMutablePointer<Float>?, count n: Int,
                             rate: Float, random: inout SeededRandom) {
        let keep = 1 - rate
        let threshold = UInt32((Double(keep) * 65536).rounded())
        let kept = 1 / keep
        let block = 1024  // draws per block: 4096 values, 8 KiB of bits
        let keptLanes = Lanes(repeating: kept), zero = Lanes(), limit = SIMD16<UInt32>(repeating: threshold)
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: block) { buffer in
            let bits = buffer.baseAddress!
            var start = 0
            while start < n {
                let values = min(4 * block, n - start)
                let draws = (values + 3) / 4
                random.fill(bits, count: draws)
                let m = mask + start
                var i = 0
                while i + width <= values {
                    let raw = UnsafeRawPointer(bits + i / 4).loadUnaligned(as: SIMD16<UInt16>.self)
                    let uniforms = SIMD16<UInt32>(truncatingIfNeeded: raw)
                    let lanes = zero.replacing(with: keptLanes, where: uniforms .< limit)
                    store(lanes, m, i)
                    if let x { store(load(UnsafePointer(x + start), i) * lanes, x + start, i) }
                    i += width
                }
                while i < values {
                    let u = UInt32((bits[i / 4] >> (16 * UInt64(i % 4))) & 0xFFFF)
                    let value: Float = u < threshold ? kept : 0
                    m[i] = value
                    if let x { x[start + i] *= value }
                    i += 1
                }
                start += values
            }
        }
    }

    /// The momentum update of one parameter, fused into one pass over memory:
    /// v = momentum * v - rate * g;  w += v.
    static func momentumStep(weight w: UnsafeMutablePointer<Float>, velocity v: UnsafeMutablePointer<Float>,
                             gradient g: UnsafePointer<Float>, count n: Int, rate: Float, momentum: Float) {
        let mu = Lanes(repeating: momentum), lr = Lanes(repeating: rate)
        var i = 0
        while i + width <= n {
            let nv = mu * load(UnsafePointer(v), i) - lr * load(g, i)
            store(nv, v, i)
            store(load(UnsafePointer(w), i) + nv, w, i)
            i += width
        }
        while i < n {
            v[i] = momentum * v[i] - rate * g[i]
            w[i] += v[i]
            i += 1
        }
    }

    /// The end of a fused momentum step (`OptimizerState.fusedSGDStep`): the weight's
    /// gradient product has left u = v - (rate / momentum) g in `velocity`; this pass
    /// makes v = momentum u (= momentum v - rate g) and w += v.
    static func velocityStep(weight w: UnsafeMutablePointer<Float>, velocity v: UnsafeMutablePointer<Float>,
                             count n: Int, momentum: Float) {
        let mu = Lanes(repeating: momentum)
        var i = 0
        while i + width <= n {
            let nv = mu * load(UnsafePointer(v), i)
            store(nv, v, i)
            store(load(UnsafePointer(w), i) + nv, w, i)
            i += width
        }
        while i < n {
            v[i] = momentum * v[i]
            w[i] += v[i]
            i += 1
        }
    }

    /// One Adam step (Kingma & Ba 2015) in one pass, the bias corrections folded into
    /// `rate` by the caller:
    /// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= rate * m / (sqrt(v) + epsilon);
    /// with `clearing`, g = 0 afterwards (the line is in cache: no pass of its own), so
    /// that the next weight-gradient product can add to g instead of zeroing it first.
    static func adamStep(weight w: UnsafeMutablePointer<Float>, first m: UnsafeMutablePointer<Float>,
                         second v: UnsafeMutablePointer<Float>, gradient g: UnsafeMutablePointer<Float>, count n: Int,
                         rate: Float, beta1: Float, beta2: Float, epsilon: Float, clearing: Bool = false) {
        if clearing {
            adamPass(w, m, v, g, n, rate, beta1, beta2, epsilon, clearing: true)
        } else {
            adamPass(w, m, v, g, n, rate, beta1, beta2, epsilon, clearing: false)
        }
    }

    @inline(__always)
    private static func adamPass(_ w: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                                 _ v: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ n: Int,
                                 _ rate: Float, _ beta1: Float, _ beta2: Float, _ epsilon: Float, clearing: Bool) {
        let b1 = Lanes(repeating: beta1), c1 = Lanes(repeating: 1 - beta1)
        let b2 = Lanes(repeating: beta2), c2 = Lanes(repeating: 1 - beta2)
        let lr = Lanes(repeating: rate), eps = Lanes(repeating: epsilon)
        var i = 0
        while i + width <= n {
            let gi = load(UnsafePointer(g), i)
            if clearing { store(Lanes(repeating: 0), g, i) }
            let mi = b1 * load(UnsafePointer(m), i) + c1 * gi
            let vi = b2 * load(UnsafePointer(v), i) + c2 * gi * gi
            store(mi, m, i)
            store(vi, v, i)
            store(load(UnsafePointer(w), i) - lr * mi / (vi.squareRoot() + eps), w, i)
            i += width
        }
        while i < n {
            let gi = g[i]
            if clearing { g[i] = 0 }
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
            w[i] -= rate * m[i] / (v[i].squareRoot() + epsilon)
            i += 1
        }
    }

    /// Rescales every column of the row-major rows x columns matrix `w` whose Euclidean
    /// norm exceeds `limit` to norm `limit` (pylearn2's `max_col_norm`). Work is split by
    /// column blocks, so each column's sum is taken in the same order whatever the
    /// thread count.
    static func limitColumnNorms(_ w: UnsafeMutablePointer<Float>, rows: Int, columns: Int, limit: Float,
                                 threads: Int) {
        updateLimitingColumnNorms(w, rows: rows, columns: columns, limit: limit, threads: threads) { _, _ in }
    }

    /// Calls `update(offset, count)` for every row segment w[offset ..< offset + count] of
    /// a block of columns, row by row, then takes the squares of the updated segment while
    /// it is still in cache, and rescales the block's columns longer than `limit` as
    /// `limitColumnNorms` does: an optimiser's element-wise update and the norm
    /// constraint in one pass over the weights instead of two. `update` must change only
    /// the elements it is given (it runs on two threads for large matrices, on disjoint
    /// column blocks). The norms are the same sums, in the same order, as
    /// `limitColumnNorms` after the update on its own.
    static func updateLimitingColumnNorms(_ w: UnsafeMutablePointer<Float>, rows: Int, columns: Int, limit: Float,
                                          threads: Int, update: (_ offset: Int, _ count: Int) -> Void) {
        nonisolated(unsafe) let w = w
        // Two blocks of whole 16-lane groups when the matrix is big enough for the pass to
        // be memory-bound (the optimisers' own threshold) or wide enough (the constraint's).
        let split = columns >= 2 * width && (rows * columns >= 1 << 18 || columns >= 512)
        let blocks = split ? min(threads, 2) : 1
        let half = (columns / 2 + width - 1) / width * width
        Parallel.forEachChunk(blocks, threads: blocks) { chunk, _ in
            let range = blocks == 1 ? 0 ..< columns : (chunk == 0 ? 0 ..< half : half ..< columns)
            let n = range.count
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { sq in
                let acc = sq.baseAddress!
                acc.update(repeating: 0, count: n)
                for r in 0..<rows {
                    let offset = r * columns + range.lowerBound
                    update(offset, n)
                    let row = UnsafePointer(w + offset)
                    var i = 0
                    while i + width <= n {
                        let v = load(row, i)
                        store(load(UnsafePointer(acc), i) + v * v, acc, i)
                        i += width
                    }
                    while i < n {
                        acc[i] += row[i] * row[i]
                        i += 1
                    }
                }
                var any = false
                for j in 0..<n {
                    let norm = acc[j].squareRoot()
                    if norm > limit {
                        acc[j] = limit / norm
                        any = true
                    } else {
                        acc[j] = 1
                    }
                }
                guard any else { return }
                for r in 0..<rows {
                    VectorKernels.multiply(UnsafeMutableBufferPointer(start: w + r * columns + range.lowerBound, count: n),
                                           by: UnsafeBufferPointer(start: acc, count: n))
                }
            }
        }
    }

    /// True when every value is finite. x * 0 is 0 for finite x and NaN for NaN or
    /// infinity, so the sum of x * 0 stays 0 exactly when all values are finite.
    static func allFinite(_ x: UnsafeBufferPointer<Float>) -> Bool {
        guard let p = x.baseAddress else { return true }
        var acc = Lanes()
        let zero = Lanes()
        var i = 0
        while i + width <= x.count {
            acc = acc + load(p, i) * zero
            i += width
        }
        var tail: Float = 0
        while i < x.count {
            tail += p[i] * 0
            i += 1
        }
        return acc.sum() + tail == 0
    }
}
