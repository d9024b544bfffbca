extension Kernels {
    /// Rows of x per block of the 1x1 kernel.
    ///
    /// 6 rows x 16 columns: six 16-lane accumulators, a broadcast of x per row and one
    /// row of the packed weights per step of the sum. With AVX2 that is twelve ymm
    /// accumulators, two for the weight row and one broadcast: 15 of the 16 registers,
    /// no spill (BLIS's and OpenBLAS's Haswell sgemm use the same 6x16). With AVX-512 six
    /// accumulators are too few: each multiply-add waits on the previous one into the same
    /// accumulator (4 cycles' latency), and two FMA ports want 8 or more independent ones,
    /// so the AVX-512 build takes two panels at a time (`pairsPanels`).
    public static var pointwiseBlockRows: Int { 6 }

    /// Whether a block of rows goes over two adjacent 16-column panels together: 6 rows x
    /// 32 columns, twelve zmm accumulators, two weight vectors (one from each panel) and
    /// the broadcasts of x, which AVX-512 folds into the multiply-add ({1to16}): 14 of 32
    /// registers, and 12 independent multiply-adds per step of the sum instead of 6.
    /// The packing is the same as the other builds' (panels of 16): the pair reads two
    /// weight streams, `inputs * 16` floats apart. AVX2 has no room for it (24 ymm
    /// accumulators of 16), and the generic build's vectors are SSE halves.
    @inline(__always) static var pairsPanels: Bool {
        #if TAGGAN_VECTOR_512
        return true
        #else
        return false
        #endif
    }

    /// Whether blocks are 12 rows: AVX-512 (see `pointwise`), and AVX2 for the narrow
    /// last panel, whose 6-row block has six 8-lane multiply-add chains, too few for two
    /// FMA units with 4-5 cycles' latency; `narrowTwelve`'s twelve 8-lane accumulators, a
    /// weight row and a broadcast are 14 of AVX2's 16 registers. AVX2's full panels run
    /// their 6 x 16 block twice per 12 rows (twelve chains already). Not the generic
    /// build's SSE pairs.
    @inline(__always) static var twelveRowBlocks: Bool {
        #if TAGGAN_VECTOR_512 || TAGGAN_VECTOR_FMA
        return true
        #else
        return false
        #endif
    }

    /// y[r, :] = x[r, :] W + bias for r in 0..<rows, then ReLU6 when `activate`, then
    /// + residual[r, :] when given (MBConv adds the skip to the linear projection).
    /// x is [rows, inputs], y and residual are [rows, outputs], all row-major and dense.
    ///
    /// `weights` are Features' `PointwiseKernel.Packed` layout: `panels` panels of 16
    /// output columns, each [inputs, 16] contiguous, the last one [inputs, lastWidth]
    /// (8 or 16); `bias` is padded to panels * 16. The panels are taken `chunkPanels` at a
    /// time, a chunk small enough to stay in the L2 cache while every block of rows goes
    /// over it (in the AVX-512 build rounded up to an even number of panels, so that the
    /// pairs of panels `pairsPanels` takes together do not straddle two chunks).
    public static func pointwise(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                 inputs k: Int, outputs n: Int, panels: Int, lastWidth: Int, chunkPanels: Int,
                                 x: UnsafePointer<Float>, rows m: Int, y: UnsafeMutablePointer<Float>,
                                 activate: Bool, residual: UnsafePointer<Float>?) {
        // One copy of the loops per epilogue the network uses (ReLU6; + residual; neither),
        // so the epilogue has no tests inside: inlined into each call site, as the kernels
        // were before they moved to this module, the compiler had made them constants.
        if activate {
            pointwise(w, bias, k, n, panels, lastWidth, chunkPanels, x, m, y, activate: true, residual: nil)
            if let residual { addResidual(residual, to: y, rows: m, outputs: n) }
        } else if let residual {
            pointwise(w, bias, k, n, panels, lastWidth, chunkPanels, x, m, y, activate: false, residual: residual)
        } else {
            pointwise(w, bias, k, n, panels, lastWidth, chunkPanels, x, m, y, activate: false, residual: nil)
        }
    }

    /// y += residual, for the combination (ReLU6 then residual) the network never asks for.
    @inline(never)
    private static func addResidual(_ residual: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows m: Int, outputs n: Int) {
        for i in 0..<(m * n) { y[i] += residual[i] }
    }

    @inline(__always)
    private static func pointwise(_ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                  _ k: Int, _ n: Int, _ panels: Int, _ lastWidth: Int, _ chunkPanels: Int,
                                  _ x: UnsafePointer<Float>, _ m: Int, _ y: UnsafeMutablePointer<Float>,
                                  activate: Bool, residual: UnsafePointer<Float>?) {
        guard m > 0 else { return }
        // AVX-512 takes 12 rows per block: the panels it cannot pair (a single 16-column
        // panel, the narrow last one) then run 12 multiply-add chains (`panelTwelve`,
        // `narrowTwelve`) instead of 6, and the pairs run as two blocks of 6.
        let blockRows = twelveRowBlocks ? 2 * pointwiseBlockRows : pointwiseBlockRows
        var chunk = max(1, chunkPanels)
        if pairsPanels { chunk += chunk & 1 }
        var p0 = 0
        while p0 < panels {
            let p1 = min(panels, p0 + chunk)
            var r0 = 0
            while r0 < m {
                // A block past the last row repeats that row; its results are not stored.
                let rows = min(blockRows, m - r0)
                let a0 = x + r0 * k
                let a1 = x + min(r0 + 1, m - 1) * k, a2 = x + min(r0 + 2, m - 1) * k
                let a3 = x + min(r0 + 3, m - 1) * k, a4 = x + min(r0 + 4, m - 1) * k
                let a5 = x + min(r0 + 5, m - 1) * k
                // The second six rows of a block of twelve (AVX-512), when it has more than six.
                let upper = twelveRowBlocks && rows > 6  // a constant false in the 6-row build
                let a6 = x + min(r0 + 6, m - 1) * k, a7 = x + min(r0 + 7, m - 1) * k
                let a8 = x + min(r0 + 8, m - 1) * k, a9 = x + min(r0 + 9, m - 1) * k
                let a10 = x + min(r0 + 10, m - 1) * k, a11 = x + min(r0 + 11, m - 1) * k
                var p = p0
                while p < p1 {
                    defer { p += 1 }
                    if p == panels - 1 && lastWidth == 8 && upper {
                        narrowTwelve(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, k: k, weights: w + p * k * 16,
                                     bias: bias + p * 16, rows: rows, into: y + r0 * n + p * 16, stride: n,
                                     columns: n - p * 16, activate: activate, residual: residual.map { $0 + r0 * n + p * 16 })
                        continue
                    }
                    if p == panels - 1 && lastWidth == 8 {
                        narrowPanel(a0, a1, a2, a3, a4, a5, k: k, weights: w + p * k * 16, bias: bias + p * 16,
                                    rows: rows, into: y + r0 * n + p * 16, stride: n, columns: n - p * 16,
                                    activate: activate, residual: residual.map { $0 + r0 * n + p * 16 })
                        continue
                    }
                    // A full panel, then the narrow last one (outputs 16j + 8 with the full
                    // panels paired up to here: lite0's 24-channel projections): 12 x 24
                    // together, so every broadcast of x feeds two multiply-adds.
                    if pairsPanels && p + 2 == panels && lastWidth == 8 && p + 1 < p1 {
                        panelNarrowTwelve(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, k: k, weights: w + p * k * 16,
                                          bias: bias + p * 16, rows: rows, into: y + r0 * n + p * 16, stride: n,
                                          columns: n - p * 16, activate: activate,
                                          residual: residual.map { $0 + r0 * n + p * 16 })
                        p += 1
                        continue
                    }
                    // Two full-width panels left in the chunk (the second may have fewer
                    // than 16 outputs, never the narrow last one): 6 x 32 together.
                    if pairsPanels && p + 1 < p1 && !(p + 1 == panels - 1 && lastWidth == 8) {
                        panelPair(a0, a1, a2, a3, a4, a5, k: k, weights: w + p * k * 16, bias: bias + p * 16,
                                  rows: min(rows, 6), into: y + r0 * n + p * 16, stride: n, columns: n - p * 16,
                                  activate: activate, residual: residual.map { $0 + r0 * n + p * 16 })
                        if upper {
                            let r6 = (r0 + 6) * n + p * 16
                            panelPair(a6, a7, a8, a9, a10, a11, k: k, weights: w + p * k * 16, bias: bias + p * 16,
                                      rows: rows - 6, into: y + r6, stride: n, columns: n - p * 16,
                                      activate: activate, residual: residual.map { $0 + r6 })
                        }
                        p += 1
                        continue
                    }
                    if upper && pairsPanels {
                        panelTwelve(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, k: k, weights: w + p * k * 16,
                                    bias: bias + p * 16, rows: rows, into: y + r0 * n + p * 16, stride: n,
                                    columns: min(16, n - p * 16), activate: activate,
                                    residual: residual.map { $0 + r0 * n + p * 16 })
                        continue
                    }
                    let column = p * 16, columns = min(16, n - column)
                    panelSix(Lanes.V16.self, a0, a1, a2, a3, a4, a5, k: k, weights: w + p * k * 16, bias: bias + column,
                             rows: min(rows, 6), into: y + r0 * n + column, stride: n, columns: columns,
                             activate: activate, residual: residual.map { $0 + r0 * n + column })
                    if upper {
                        // AVX2's twelve-row block (`twelveRowBlocks`): its second six rows.
                        let r6 = (r0 + 6) * n + column
                        panelSix(Lanes.V16.self, a6, a7, a8, a9, a10, a11, k: k, weights: w + p * k * 16, bias: bias + column,
                                 rows: rows - 6, into: y + r6, stride: n, columns: columns,
                                 activate: activate, residual: residual.map { $0 + r6 })
                    }
                }
                r0 += blockRows
            }
            p0 = p1
        }
    }

    /// `pointwise`'s block of 6 rows (`rows` of them real, 1 to 6) of one panel, 16 columns
    /// wide (V16) or the narrow last one, 8 wide (V8): weights [k, width] at `weights`,
    /// bias (padded to the width) at `bias`; `columns` of the width are outputs. Six
    /// accumulators, one broadcast of x per row and one weight row per step of the sum.
    @inline(__always)
    private static func panelSix<V: LaneVector>(_: V.Type, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>,
                                                _ a2: UnsafePointer<Float>, _ a3: UnsafePointer<Float>,
                                                _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                                k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int,
                                                into out: UnsafeMutablePointer<Float>, stride n: Int, columns: Int,
                                                activate: Bool, residual skip: UnsafePointer<Float>?) {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
        let width = c0.scalarCount
        var b = weights
        for i in 0..<k {
            let row = V.load(b)
            c0 = V.multiplyAdd(c0, V(repeating: a0[i]), row)
            c1 = V.multiplyAdd(c1, V(repeating: a1[i]), row)
            c2 = V.multiplyAdd(c2, V(repeating: a2[i]), row)
            c3 = V.multiplyAdd(c3, V(repeating: a3[i]), row)
            c4 = V.multiplyAdd(c4, V(repeating: a4[i]), row)
            c5 = V.multiplyAdd(c5, V(repeating: a5[i]), row)
            b += width
        }
        let bv = V.load(bias)
        finish(c0, bv, out, skip, columns, activate)
        if rows > 1 { finish(c1, bv, out + n, skip.map { $0 + n }, columns, activate) }
        if rows > 2 { finish(c2, bv, out + 2 * n, skip.map { $0 + 2 * n }, columns, activate) }
        if rows > 3 { finish(c3, bv, out + 3 * n, skip.map { $0 + 3 * n }, columns, activate) }
        if rows > 4 { finish(c4, bv, out + 4 * n, skip.map { $0 + 4 * n }, columns, activate) }
        if rows > 5 { finish(c5, bv, out + 5 * n, skip.map { $0 + 5 * n }, columns, activate) }
    }

    /// `pointwise`'s block of 6 rows over two adjacent 16-column panels (`pairsPanels`):
    /// the first panel's weights [k, 16] at `weights`, the second's `k * 16` floats on,
    /// bias for both (32, padded) at `bias`; `columns` (more than 16) counts the outputs
    /// from the first panel's first, of which the first 32 are this pair's. The same sums,
    /// bias, activation and residual per column as the one-panel block, so the results are
    /// the same to the bit.
    @inline(__always)
    private static func panelPair(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                  _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                  k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int,
                                  into out: UnsafeMutablePointer<Float>, stride n: Int, columns: Int,
                                  activate: Bool, residual: UnsafePointer<Float>?) {
        var c0 = Lanes.V16(), c1 = Lanes.V16(), c2 = Lanes.V16(), c3 = Lanes.V16(), c4 = Lanes.V16(), c5 = Lanes.V16()
        var d0 = Lanes.V16(), d1 = Lanes.V16(), d2 = Lanes.V16(), d3 = Lanes.V16(), d4 = Lanes.V16(), d5 = Lanes.V16()
        var b = weights
        let second = k * 16
        for i in 0..<k {
            let left = Lanes.load16(b), right = Lanes.load16(b + second)
            let x0 = Lanes.V16(repeating: a0[i]), x1 = Lanes.V16(repeating: a1[i]), x2 = Lanes.V16(repeating: a2[i])
            c0 = Lanes.multiplyAdd(c0, x0, left); d0 = Lanes.multiplyAdd(d0, x0, right)
            c1 = Lanes.multiplyAdd(c1, x1, left); d1 = Lanes.multiplyAdd(d1, x1, right)
            c2 = Lanes.multiplyAdd(c2, x2, left); d2 = Lanes.multiplyAdd(d2, x2, right)
            let x3 = Lanes.V16(repeating: a3[i]), x4 = Lanes.V16(repeating: a4[i]), x5 = Lanes.V16(repeating: a5[i])
            c3 = Lanes.multiplyAdd(c3, x3, left); d3 = Lanes.multiplyAdd(d3, x3, right)
            c4 = Lanes.multiplyAdd(c4, x4, left); d4 = Lanes.multiplyAdd(d4, x4, right)
            c5 = Lanes.multiplyAdd(c5, x5, left); d5 = Lanes.multiplyAdd(d5, x5, right)
            b += 16
        }
        let bl = Lanes.load16(bias), br = Lanes.load16(bias + 16)
        let rightColumns = min(16, columns - 16)
        @inline(__always) func row(_ left: Lanes.V16, _ right: Lanes.V16, _ r: Int) {
            let o = out + r * n, skip = residual.map { $0 + r * n }
            finish(left, bl, o, skip, 16, activate)
            finish(right, br, o + 16, skip.map { $0 + 16 }, rightColumns, activate)
        }
        row(c0, d0, 0)
        if rows > 1 { row(c1, d1, 1) }
        if rows > 2 { row(c2, d2, 2) }
        if rows > 3 { row(c3, d3, 3) }
        if rows > 4 { row(c4, d4, 4) }
        if rows > 5 { row(c5, d5, 5) }
    }

    /// `pointwise`'s block of 12 rows (7 to 12 of them real, the others repeating the last)
    /// over one 16-column panel ([k, 16] weights, `columns` of them stored): twelve
    /// accumulators, one weight load and twelve broadcasts per step of the sum. The same
    /// sums, bias, activation and residual per column as the 6-row block.
    @inline(never)
    private static func panelTwelve(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                    _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                    _ a6: UnsafePointer<Float>, _ a7: UnsafePointer<Float>, _ a8: UnsafePointer<Float>,
                                    _ a9: UnsafePointer<Float>, _ a10: UnsafePointer<Float>, _ a11: UnsafePointer<Float>,
                                    k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int,
                                    into out: UnsafeMutablePointer<Float>, stride n: Int, columns: Int,
                                    activate: Bool, residual: UnsafePointer<Float>?) {
        var c0 = Lanes.V16(), c1 = Lanes.V16(), c2 = Lanes.V16(), c3 = Lanes.V16(), c4 = Lanes.V16(), c5 = Lanes.V16()
        var c6 = Lanes.V16(), c7 = Lanes.V16(), c8 = Lanes.V16(), c9 = Lanes.V16(), c10 = Lanes.V16(), c11 = Lanes.V16()
        // The rows are read from their ends by a negative index counting up to 0. (The
        // compiler turns it back into a count to k, but then compares with k in memory,
        // one operand per step, where the plain loop over 0..<k had reloaded two of the
        // twelve row pointers from the stack every step: 14 loads per 12 multiply-adds
        // instead of 15, on a loop bound by its loads; 1x1 112x32x16 ran 80 -> 85 GFLOP/s,
        // `taggan bench kernels`, Intel Xeon model 167.)
        var b = weights
        let e0 = a0 + k, e1 = a1 + k, e2 = a2 + k, e3 = a3 + k, e4 = a4 + k, e5 = a5 + k
        let e6 = a6 + k, e7 = a7 + k, e8 = a8 + k, e9 = a9 + k, e10 = a10 + k, e11 = a11 + k
        var i = -k
        while i < 0 {
            let row = Lanes.load16(b)
            c0 = Lanes.multiplyAdd(c0, Lanes.V16(repeating: e0[i]), row)
            c1 = Lanes.multiplyAdd(c1, Lanes.V16(repeating: e1[i]), row)
            c2 = Lanes.multiplyAdd(c2, Lanes.V16(repeating: e2[i]), row)
            c3 = Lanes.multiplyAdd(c3, Lanes.V16(repeating: e3[i]), row)
            c4 = Lanes.multiplyAdd(c4, Lanes.V16(repeating: e4[i]), row)
            c5 = Lanes.multiplyAdd(c5, Lanes.V16(repeating: e5[i]), row)
            c6 = Lanes.multiplyAdd(c6, Lanes.V16(repeating: e6[i]), row)
            c7 = Lanes.multiplyAdd(c7, Lanes.V16(repeating: e7[i]), row)
            c8 = Lanes.multiplyAdd(c8, Lanes.V16(repeating: e8[i]), row)
            c9 = Lanes.multiplyAdd(c9, Lanes.V16(repeating: e9[i]), row)
            c10 = Lanes.multiplyAdd(c10, Lanes.V16(repeating: e10[i]), row)
            c11 = Lanes.multiplyAdd(c11, Lanes.V16(repeating: e11[i]), row)
            b += 16
            i += 1
        }
        let bv = Lanes.load16(bias)
        @inline(__always) func row(_ acc: Lanes.V16, _ r: Int) {
            if r < rows { finish(acc, bv, out + r * n, residual.map { $0 + r * n }, columns, activate) }
        }
        row(c0, 0); row(c1, 1); row(c2, 2); row(c3, 3); row(c4, 4); row(c5, 5)
        row(c6, 6); row(c7, 7); row(c8, 8); row(c9, 9); row(c10, 10); row(c11, 11)
    }

    /// `pointwise`'s block of 12 rows (1 to 12 of them real, the others repeating the last)
    /// over a full 16-column panel and the narrow last one after it: [k, 16] weights at
    /// `weights`, then [k, 8] `k * 16` floats on; `columns` (17 to 24) counts the outputs
    /// from the full panel's first. Twelve 16-lane and twelve 8-lane accumulators (24 of
    /// AVX-512's 32 registers), two weight loads and twelve broadcasts per step of the sum,
    /// each broadcast used twice: `panelTwelve` then `narrowTwelve` loaded every broadcast
    /// twice, 26 loads for the same 24 multiply-adds, and ran load-bound. The same sums,
    /// bias, activation and residual per column as those two, so the results are the same
    /// to the bit.
    @inline(never)
    private static func panelNarrowTwelve(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                          _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                          _ a6: UnsafePointer<Float>, _ a7: UnsafePointer<Float>, _ a8: UnsafePointer<Float>,
                                          _ a9: UnsafePointer<Float>, _ a10: UnsafePointer<Float>, _ a11: UnsafePointer<Float>,
                                          k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int,
                                          into out: UnsafeMutablePointer<Float>, stride n: Int, columns: Int,
                                          activate: Bool, residual: UnsafePointer<Float>?) {
        var c0 = Lanes.V16(), c1 = Lanes.V16(), c2 = Lanes.V16(), c3 = Lanes.V16(), c4 = Lanes.V16(), c5 = Lanes.V16()
        var c6 = Lanes.V16(), c7 = Lanes.V16(), c8 = Lanes.V16(), c9 = Lanes.V16(), c10 = Lanes.V16(), c11 = Lanes.V16()
        var d0 = Lanes.V8(), d1 = Lanes.V8(), d2 = Lanes.V8(), d3 = Lanes.V8(), d4 = Lanes.V8(), d5 = Lanes.V8()
        var d6 = Lanes.V8(), d7 = Lanes.V8(), d8 = Lanes.V8(), d9 = Lanes.V8(), d10 = Lanes.V8(), d11 = Lanes.V8()
        var b = weights, e = weights + k * 16
        @inline(__always) func step(_ c: inout Lanes.V16, _ d: inout Lanes.V8, _ x: Float, _ wide: Lanes.V16, _ narrow: Lanes.V8) {
            c = Lanes.multiplyAdd(c, Lanes.V16(repeating: x), wide)
            d = Lanes.multiplyAdd(d, Lanes.V8(repeating: x), narrow)
        }
        for i in 0..<k {
            let wide = Lanes.load16(b), narrow = Lanes.load8(e)
            step(&c0, &d0, a0[i], wide, narrow); step(&c1, &d1, a1[i], wide, narrow)
            step(&c2, &d2, a2[i], wide, narrow); step(&c3, &d3, a3[i], wide, narrow)
            step(&c4, &d4, a4[i], wide, narrow); step(&c5, &d5, a5[i], wide, narrow)
            step(&c6, &d6, a6[i], wide, narrow); step(&c7, &d7, a7[i], wide, narrow)
            step(&c8, &d8, a8[i], wide, narrow); step(&c9, &d9, a9[i], wide, narrow)
            step(&c10, &d10, a10[i], wide, narrow); step(&c11, &d11, a11[i], wide, narrow)
            b += 16
            e += 8
        }
        let bv = Lanes.load16(bias), bn = Lanes.load8(bias + 16)
        let narrowColumns = columns - 16
        @inline(__always) func row(_ acc: Lanes.V16, _ tail: Lanes.V8, _ r: Int) {
            guard r < rows else { return }
            let o = out + r * n, skip = residual.map { $0 + r * n }
            finish(acc, bv, o, skip, 16, activate)
            finish(tail, bn, o + 16, skip.map { $0 + 16 }, narrowColumns, activate)
        }
        row(c0, d0, 0); row(c1, d1, 1); row(c2, d2, 2); row(c3, d3, 3); row(c4, d4, 4); row(c5, d5, 5)
        row(c6, d6, 6); row(c7, d7, 7); row(c8, d8, 8); row(c9, d9, 9); row(c10, d10, 10); row(c11, d11, 11)
    }

    /// `narrowPanel` for 12 rows (7 to 12 of them real), as `panelTwelve` is the 16-column one's.
    @inline(never)
    private static func narrowTwelve(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                     _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                     _ a6: UnsafePointer<Float>, _ a7: UnsafePointer<Float>, _ a8: UnsafePointer<Float>,
                                     _ a9: UnsafePointer<Float>, _ a10: UnsafePointer<Float>, _ a11: UnsafePointer<Float>,
                                     k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int,
                                     into out: UnsafeMutablePointer<Float>, stride n: Int, columns: Int,
                                     activate: Bool, residual: UnsafePointer<Float>?) {
        var c0 = Lanes.V8(), c1 = Lanes.V8(), c2 = Lanes.V8(), c3 = Lanes.V8(), c4 = Lanes.V8(), c5 = Lanes.V8()
        var c6 = Lanes.V8(), c7 = Lanes.V8(), c8 = Lanes.V8(), c9 = Lanes.V8(), c10 = Lanes.V8(), c11 = Lanes.V8()
        var b = weights
        for i in 0..<k {
            let row = Lanes.load8(b)
            c0 = Lanes.multiplyAdd(c0, Lanes.V8(repeating: a0[i]), row)
            c1 = Lanes.multiplyAdd(c1, Lanes.V8(repeating: a1[i]), row)
            c2 = Lanes.multiplyAdd(c2, Lanes.V8(repeating: a2[i]), row)
            c3 = Lanes.multiplyAdd(c3, Lanes.V8(repeating: a3[i]), row)
            c4 = Lanes.multiplyAdd(c4, Lanes.V8(repeating: a4[i]), row)
            c5 = Lanes.multiplyAdd(c5, Lanes.V8(repeating: a5[i]), row)
            c6 = Lanes.multiplyAdd(c6, Lanes.V8(repeating: a6[i]), row)
            c7 = Lanes.multiplyAdd(c7, Lanes.V8(repeating: a7[i]), row)
            c8 = Lanes.multiplyAdd(c8, Lanes.V8(repeating: a8[i]), row)
            c9 = Lanes.multiplyAdd(c9, Lanes.V8(repeating: a9[i]), row)
            c10 = Lanes.multiplyAdd(c10, Lanes.V8(repeating: a10[i]), row)
            c11 = Lanes.multiplyAdd(c11, Lanes.V8(repeating: a11[i]), row)
            b += 8
        }
        let bv = Lanes.load8(bias)
        @inline(__always) func row(_ acc: Lanes.V8, _ r: Int) {
            if r < rows { finish(acc, bv, out + r * n, residual.map { $0 + r * n }, columns, activate) }
        }
        row(c0, 0); row(c1, 1); row(c2, 2); row(c3, 3); row(c4, 4); row(c5, 5)
        row(c6, 6); row(c7, 7); row(c8, 8); row(c9, 9); row(c10, 10); row(c11, 11)
    }

    /// `pointwise`'s block of 6 rows for a last panel 8 columns wide ([k, 8] weights):
    /// `panelSix` on 8-lane vectors, out of line as it was written before.
    @inline(never)
    private static func narrowPanel(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                    _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                    k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int,
                                    into out: UnsafeMutablePointer<Float>, stride n: Int, columns: Int,
                                    activate: Bool, residual: UnsafePointer<Float>?) {
        panelSix(Lanes.V8.self, a0, a1, a2, a3, a4, a5, k: k, weights: weights, bias: bias, rows: rows, into: out,
                 stride: n, columns: columns, activate: activate, residual: residual)
    }

    /// Bias, activation and residual on one row of accumulators (16 or 8 lanes), and the
    /// store of its first `columns` values.
    @inline(__always)
    private static func finish<V: LaneVector>(_ acc: V, _ bias: V, _ out: UnsafeMutablePointer<Float>,
                                              _ residual: UnsafePointer<Float>?, _ columns: Int, _ activate: Bool) {
        var v = acc + bias
        if activate { v = V.relu6(v) }
        if columns == v.scalarCount {
            if let residual { v = v + V.load(residual) }
            V.store(v, out)
        } else {
            for j in 0..<columns { out[j] = v[j] + (residual?[j] ?? 0) }
        }
    }
}
