/// The 1x1 convolutions of the conv net (and the stem, as a product with im2col
/// patches): y = x W + bias, then ReLU6 or a residual add, over a [rows, inputs]
/// row-major activation x (NHWC: one row per pixel).
///
/// A small matrix-product kernel of our own rather than sgemm, because for these shapes
/// most of sgemm's time went around the arithmetic: packing the activations and the
/// weights on every call, zeroing the output (beta = 0), then a separate pass for bias
/// and ReLU6 over the output. Here the weights are packed once, at load time, and the
/// activations are read where they are; the bias, ReLU6 and the residual are applied to
/// the accumulators before the single store. Measured on lite0's shapes, one thread:
/// 75-114 GFLOP/s against 63-103 for OpenBLAS's sgemm (SkylakeX kernel) plus the bias
/// pass, with the largest gains on the thin early layers (K = 16, 32).
///
/// The kernel computes 6 rows x 16 columns at a time: six 16-lane accumulators (twelve
/// registers with AVX2, six with AVX-512), a broadcast of x per row and one row of the
/// packed weights per step of the sum, which fits AVX2's 16 vector registers without
/// spilling and keeps the multiply-add units busy on both (~100-115 GFLOP/s per core
/// in cache on Zen 4, its peak ~110-115).
enum PointwiseKernel {
    typealias V16 = SIMD16<Float>
    typealias V8 = SIMD8<Float>

    /// Columns per panel of packed weights.
    static let panelWidth = 16
    /// Rows of x per block.
    static let blockRows = 6

    /// Weights [inputs, outputs] (row-major) and a bias, packed for `apply`: panels of 16
    /// output columns, each [inputs, 16] contiguous, the last panel and the bias padded
    /// with zeros. When 8 or fewer columns are left for the last panel it is 8 wide
    /// ([inputs, 8]), so that outputs of 24 or 40 channels (lite0's early projections)
    /// do not compute 32 or 48.
    struct Packed {
        let inputs: Int, outputs: Int
        let panels: Int
        /// 8 or 16: the width of the last panel.
        let lastWidth: Int
        /// [panels][inputs][16] (the last panel [inputs][lastWidth])
        let weights: AlignedFloats
        /// [panels * 16]
        let bias: AlignedFloats

        init(weights w: [Float], bias b: [Float], inputs: Int, outputs: Int) {
            precondition(w.count == inputs * outputs && b.count == outputs)
            self.inputs = inputs
            self.outputs = outputs
            panels = (outputs + 15) / 16
            lastWidth = (1...8).contains(outputs % 16) ? 8 : 16
            weights = AlignedFloats(count: panels * inputs * 16)
            bias = AlignedFloats(count: panels * 16)
            for p in 0..<panels {
                let width = p == panels - 1 ? lastWidth : 16
                for i in 0..<inputs {
                    for j in 0..<width where p * 16 + j < outputs {
                        weights.pointer[p * inputs * 16 + i * width + j] = w[i * outputs + p * 16 + j]
                    }
                }
            }
            for o in 0..<outputs { bias.pointer[o] = b[o] }
        }
    }

    @inline(__always) static func load16(_ p: UnsafePointer<Float>) -> V16 { UnsafeRawPointer(p).loadUnaligned(as: V16.self) }
    @inline(__always) static func store16(_ v: V16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self) }

    /// y[r, :] = x[r, :] W + bias for r in 0..<rows, then ReLU6 when `activate`, then
    /// + residual[r, :] when given (MBConv adds the skip to the linear projection).
    /// x is [rows, inputs], y and residual are [rows, outputs], all row-major and dense.
    static func apply(_ layer: Packed, _ x: UnsafePointer<Float>, rows m: Int,
                      into y: UnsafeMutablePointer<Float>, activate: Bool,
                      residual: UnsafePointer<Float>? = nil) {
        guard m > 0 else { return }
        let k = layer.inputs, n = layer.outputs
        let w = UnsafePointer(layer.weights.pointer), bias = UnsafePointer(layer.bias.pointer)
        // Panels in chunks of ~256 KB of weights, so a chunk stays in the L2 cache while
        // every block of rows goes over it.
        let chunk = max(1, 256 * 1024 / (k * 16 * MemoryLayout<Float>.stride))
        var p0 = 0
        while p0 < layer.panels {
            let p1 = min(layer.panels, p0 + chunk)
            var r0 = 0
            while r0 < m {
                // A block past the last row repeats that row; its results are not stored.
                let rows = min(blockRows, m - r0)
                let a0 = x + r0 * k
                let a1 = x + min(r0 + 1, m - 1) * k, a2 = x + min(r0 + 2, m - 1) * k
                let a3 = x + min(r0 + 3, m - 1) * k, a4 = x + min(r0 + 4, m - 1) * k
                let a5 = x + min(r0 + 5, m - 1) * k
                for p in p0..<p1 {
                    if p == layer.panels - 1 && layer.lastWidth == 8 {
                        narrowPanel(a0, a1, a2, a3, a4, a5, k: k, weights: w + p * k * 16, bias: bias + p * 16,
                                    rows: rows, into: y + r0 * n + p * 16, stride: n, columns: n - p * 16,
                                    activate: activate, residual: residual.map { $0 + r0 * n + p * 16 })
                        continue
                    }
                    var c0 = V16(), c1 = V16(), c2 = V16(), c3 = V16(), c4 = V16(), c5 = V16()
                    var b = w + p * k * 16
                    for i in 0..<k {
                        let row = load16(b)
                        c0 = ConvKernels.multiplyAdd(c0, V16(repeating: a0[i]), row)
                        c1 = ConvKernels.multiplyAdd(c1, V16(repeating: a1[i]), row)
                        c2 = ConvKernels.multiplyAdd(c2, V16(repeating: a2[i]), row)
                        c3 = ConvKernels.multiplyAdd(c3, V16(repeating: a3[i]), row)
                        c4 = ConvKernels.multiplyAdd(c4, V16(repeating: a4[i]), row)
                        c5 = ConvKernels.multiplyAdd(c5, V16(repeating: a5[i]), row)
                        b += 16
                    }
                    let column = p * 16, columns = min(16, n - column)
                    let bv = load16(bias + column)
                    let out = y + r0 * n + column
                    let skip = residual.map { $0 + r0 * n + column }
                    finish(c0, bv, out, skip, columns, activate)
                    if rows > 1 { finish(c1, bv, out + n, skip.map { $0 + n }, columns, activate) }
                    if rows > 2 { finish(c2, bv, out + 2 * n, skip.map { $0 + 2 * n }, columns, activate) }
                    if rows > 3 { finish(c3, bv, out + 3 * n, skip.map { $0 + 3 * n }, columns, activate) }
                    if rows > 4 { finish(c4, bv, out + 4 * n, skip.map { $0 + 4 * n }, columns, activate) }
                    if rows > 5 { finish(c5, bv, out + 5 * n, skip.map { $0 + 5 * n }, columns, activate) }
                }
                r0 += blockRows
            }
            p0 = p1
        }
    }

    /// `apply`'s block of 6 rows for a last panel 8 columns wide ([k, 8] weights): the
    /// same steps on 8-lane vectors. Outputs and residual rows are `stride` apart.
    @inline(never)
    private static func narrowPanel(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                                    _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                                    k: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int,
                                    into out: UnsafeMutablePointer<Float>, stride n: Int, columns: Int,
                                    activate: Bool, residual: UnsafePointer<Float>?) {
        var c0 = V8(), c1 = V8(), c2 = V8(), c3 = V8(), c4 = V8(), c5 = V8()
        var b = weights
        for i in 0..<k {
            let row = UnsafeRawPointer(b).loadUnaligned(as: V8.self)
            c0 = ConvKernels.multiplyAdd(c0, V8(repeating: a0[i]), row)
            c1 = ConvKernels.multiplyAdd(c1, V8(repeating: a1[i]), row)
            c2 = ConvKernels.multiplyAdd(c2, V8(repeating: a2[i]), row)
            c3 = ConvKernels.multiplyAdd(c3, V8(repeating: a3[i]), row)
            c4 = ConvKernels.multiplyAdd(c4, V8(repeating: a4[i]), row)
            c5 = ConvKernels.multiplyAdd(c5, V8(repeating: a5[i]), row)
            b += 8
        }
        let bv = UnsafeRawPointer(bias).loadUnaligned(as: V8.self)
        @inline(__always) func finish(_ acc: V8, _ r: Int) {
            var v = acc + bv
            if activate { v = ConvKernels.relu6(v) }
            let o = out + r * n
            if columns == 8 {
                if let residual { v = v + UnsafeRawPointer(residual + r * n).loadUnaligned(as: V8.self) }
                UnsafeMutableRawPointer(o).storeBytes(of: v, as: V8.self)
            } else {
                for j in 0..<columns { o[j] = v[j] + (residual?[r * n + j] ?? 0) }
            }
        }
        finish(c0, 0)
        if rows > 1 { finish(c1, 1) }
        if rows > 2 { finish(c2, 2) }
        if rows > 3 { finish(c3, 3) }
        if rows > 4 { finish(c4, 4) }
        if rows > 5 { finish(c5, 5) }
    }

    /// Bias, activation and residual on one row of accumulators, and the store of its
    /// first `columns` values.
    @inline(__always)
    private static func finish(_ acc: V16, _ bias: V16, _ out: UnsafeMutablePointer<Float>,
                               _ residual: UnsafePointer<Float>?, _ columns: Int, _ activate: Bool) {
        var v = acc + bias
        if activate { v = ConvKernels.relu6(v) }
        if columns == 16 {
            if let residual { v = v + load16(residual) }
            store16(v, out)
        } else {
            for j in 0..<columns { out[j] = v[j] + (residual?[j] ?? 0) }
        }
    }
}

/// A Float buffer aligned to 64 bytes (a cache line), so 16-lane loads never straddle
/// two lines: unaligned (Swift arrays are 16-byte aligned), the depthwise kernel ran
/// ~30% slower.
final class AlignedFloats: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    deinit { pointer.deallocate() }
}
