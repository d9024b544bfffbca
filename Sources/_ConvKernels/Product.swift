extension Kernels {
    /// C[m, n] = X[m, k] B[k, n], or C += X B when `accumulate`: the 1x1 kernel's tiles
    /// (`pointwise`: 6 rows x 16 columns, the AVX-512 build 6 x 32 over two panels) as a
    /// general product (TagganCore's `KernelProducts`): the GAN's training products, whose
    /// operands change every step and so are read where they lie whenever they can be,
    /// and every product over a batch of images that must be row-stable.
    ///
    /// X is row-major with row stride `lda`. B is `panels` panels of 16 columns; row i of
    /// panel p is the 16 floats at `b + p * panelStride + i * rowStride`: a row-major k x n
    /// matrix read in place is panelStride 16, rowStride ldb; `PointwiseKernel.Packed`'s
    /// layout is panelStride 16 k, rowStride 16. Every panel's 16 floats are read, so the
    /// caller packs a last panel of fewer columns (it has `lastColumns`, 1...16, of which
    /// only those are stored). C has row stride `ldc`. The panels are taken `chunkPanels`
    /// at a time (rounded up to pairs in the AVX-512 build) while every block of rows goes
    /// over them, so a chunk of B stays in the L2 cache.
    ///
    /// Each C value is sum_i x[r, i] b[i, c] in order i = 0, 1, ..., one fused multiply-add
    /// per term (a multiply and an add in the generic build), whatever the chunking.
    public static func product(x: UnsafePointer<Float>, lda: Int, rows m: Int, depth k: Int,
                               b: UnsafePointer<Float>, panelStride: Int, rowStride: Int, panels: Int, lastColumns: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, chunkPanels: Int) {
        if accumulate {
            product(x, lda, m, k, b, panelStride, rowStride, panels, lastColumns, c, ldc, chunkPanels, accumulate: true)
        } else {
            product(x, lda, m, k, b, panelStride, rowStride, panels, lastColumns, c, ldc, chunkPanels, accumulate: false)
        }
    }

    @inline(__always)
    private static func product(_ x: UnsafePointer<Float>, _ lda: Int, _ m: Int, _ k: Int,
                                _ b: UnsafePointer<Float>, _ panelStride: Int, _ rowStride: Int, _ panels: Int,
                                _ lastColumns: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ chunkPanels: Int,
                                accumulate: Bool) {
        guard m > 0, panels > 0 else { return }
        var chunk = max(1, chunkPanels)
        if pairsPanels { chunk += chunk & 1 }
        var p0 = 0
        while p0 < panels {
            let p1 = min(panels, p0 + chunk)
            var r0 = 0
            while r0 < m {
                // A block past the last row repeats that row; its results are not stored.
                let rows = min(6, m - r0)
                let a0 = x + r0 * lda
                let a1 = x + min(r0 + 1, m - 1) * lda, a2 = x + min(r0 + 2, m - 1) * lda
                let a3 = x + min(r0 + 3, m - 1) * lda, a4 = x + min(r0 + 4, m - 1) * lda
                let a5 = x + min(r0 + 5, m - 1) * lda
                let out = c + r0 * ldc
                var p = p0
                while p < p1 {
                    let columns = p == panels - 1 ? lastColumns : 16
                    if pairsPanels && p + 1 < p1 {
                        productPair(a0, a1, a2, a3, a4, a5, k: k, b: b + p * panelStride, second: panelStride,
                                    rowStride: rowStride, rows: rows, out: out + p * 16, ldc: ldc,
                                    rightColumns: p + 1 == panels - 1 ? lastColumns : 16, accumulate: accumulate)
                        p += 2
                        continue
                    }
                    var c0 = Lanes.V16(), c1 = Lanes.V16(), c2 = Lanes.V16()
                    var c3 = Lanes.V16(), c4 = Lanes.V16(), c5 = Lanes.V16()
                    var w = b + p * panelStride
                    for i in 0..<k {
                        let row = Lanes.load16(w)
                        c0 = Lanes.multiplyAdd(c0, Lanes.V16(repeating: a0[i]), row)
                        c1 = Lanes.multiplyAdd(c1, Lanes.V16(repeating: a1[i]), row)
                        c2 = Lanes.multiplyAdd(c2, Lanes.V16(repeating: a2[i]), row)
                        c3 = Lanes.multiplyAdd(c3, Lanes.V16(repeating: a3[i]), row)
                        c4 = Lanes.multiplyAdd(c4, Lanes.V16(repeating: a4[i]), row)
                        c5 = Lanes.multiplyAdd(c5, Lanes.V16(repeating: a5[i]), row)
                        w += rowStride
                    }
                    let o = out + p * 16
                    store(c0, o, columns, accumulate)
                    if rows > 1 { store(c1, o + ldc, columns, accumulate) }
                    if rows > 2 { store(c2, o + 2 * ldc, columns, accumulate) }
                    if rows > 3 { store(c3, o + 3 * ldc, columns, accumulate) }
                    if rows > 4 { store(c4, o + 4 * ldc, columns, accumulate) }
                    if rows > 5 { store(c5, o + 5 * ldc, columns, accumulate) }
                    p += 1
                }
                r0 += 6
            }
            p0 = p1
        }
    }

    /// `product`'s block of 6 rows over two adjacent panels (`pairsPanels`), the second
    /// `second` floats after the first; `rightColumns` of the second's 16 are stored.
    @inline(__always)
    private static func productPair(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                    _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                    k: Int, b: UnsafePointer<Float>, second: Int, rowStride: Int, rows: Int,
                                    out: UnsafeMutablePointer<Float>, ldc: Int, rightColumns: Int, accumulate: Bool) {
        var c0 = Lanes.V16(), c1 = Lanes.V16(), c2 = Lanes.V16(), c3 = Lanes.V16(), c4 = Lanes.V16(), c5 = Lanes.V16()
        var d0 = Lanes.V16(), d1 = Lanes.V16(), d2 = Lanes.V16(), d3 = Lanes.V16(), d4 = Lanes.V16(), d5 = Lanes.V16()
        var w = b
        for i in 0..<k {
            let left = Lanes.load16(w), right = Lanes.load16(w + second)
            let x0 = Lanes.V16(repeating: a0[i]), x1 = Lanes.V16(repeating: a1[i]), x2 = Lanes.V16(repeating: a2[i])
            c0 = Lanes.multiplyAdd(c0, x0, left); d0 = Lanes.multiplyAdd(d0, x0, right)
            c1 = Lanes.multiplyAdd(c1, x1, left); d1 = Lanes.multiplyAdd(d1, x1, right)
            c2 = Lanes.multiplyAdd(c2, x2, left); d2 = Lanes.multiplyAdd(d2, x2, right)
            let x3 = Lanes.V16(repeating: a3[i]), x4 = Lanes.V16(repeating: a4[i]), x5 = Lanes.V16(repeating: a5[i])
            c3 = Lanes.multiplyAdd(c3, x3, left); d3 = Lanes.multiplyAdd(d3, x3, right)
            c4 = Lanes.multiplyAdd(c4, x4, left); d4 = Lanes.multiplyAdd(d4, x4, right)
            c5 = Lanes.multiplyAdd(c5, x5, left); d5 = Lanes.multiplyAdd(d5, x5, right)
            w += rowStride
        }
        @inline(__always) func row(_ left: Lanes.V16, _ right: Lanes.V16, _ r: Int) {
            store(left, out + r * ldc, 16, accumulate)
            store(right, out + r * ldc + 16, rightColumns, accumulate)
        }
        row(c0, d0, 0)
        if rows > 1 { row(c1, d1, 1) }
        if rows > 2 { row(c2, d2, 2) }
        if rows > 3 { row(c3, d3, 3) }
        if rows > 4 { row(c4, d4, 4) }
        if rows > 5 { row(c5, d5, 5) }
    }

    /// Stores (or adds to the values at `out`) the first `columns` of a row of accumulators.
    @inline(__always)
    private static func store(_ acc: Lanes.V16, _ out: UnsafeMutablePointer<Float>, _ columns: Int, _ accumulate: Bool) {
        if columns == 16 {
            Lanes.store16(accumulate ? Lanes.load16(out) + acc : acc, out)
        } else {
            for j in 0..<columns { out[j] = accumulate ? out[j] + acc[j] : acc[j] }
        }
    }
}

extension Kernels {
    /// Copies `columns` columns of `depth` rows of the row-major B (row stride `ldb`) into
    /// `product`'s packed panels: panel p, row i at out + p * 16 depth + 16 i, the last
    /// panel padded with zeros. Packed, a chunk of B is read from contiguous memory by
    /// every block of rows; read in place at a row stride of a few KiB, its rows fell into
    /// a few cache sets and were fetched again for every block (`taggan bench gemm`).
    public static func packPanels(_ b: UnsafePointer<Float>, ldb: Int, depth: Int, columns: Int,
                                  into out: UnsafeMutablePointer<Float>) {
        let full = columns / 16, rest = columns - full * 16
        let panelStride = 16 * depth
        for i in 0..<depth {
            let row = b + i * ldb
            var o = out + 16 * i
            for p in 0..<full {
                Lanes.store16(Lanes.load16(row + 16 * p), o)
                o += panelStride
            }
            if rest > 0 {
                for j in 0..<16 { o[j] = j < rest ? row[16 * full + j] : 0 }
            }
        }
    }
}
