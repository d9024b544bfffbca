import Foundation
import _ConvKernels
import _ConvKernelsAVX2
import _ConvKernelsAVX512

/// Matrix products on taggan's own kernel (`Kernels.product` in `_ConvKernels`: the conv
/// net's 1x1 tiles, 6 x 16, 6 x 32 in the AVX-512 build), compiled once per
/// `KernelVariant` and chosen at run time as the conv net's are. Used for the GAN's
/// training products (TagGAN's `Products` says which) and for every product whose rows
/// must not depend on each other (`Tensor.assignRowStableProduct`).
///
///   NN  C = A B:    X = A, B packed by each worker a chunk at a time (`run`);
///   TN  C = A^T B:  X = A^T (A is the batch's activations: transposed into scratch), B as for NN;
///   NT  C = A B^T:  computed as C^T = B A^T, X = B in place (the weights), A^T packed
///                   (the batch's gradients), then C = (C^T)^T, a slab of B's rows at a time.
///
/// The depth is taken in blocks of `depthBlock` so that a block of six rows of X and a
/// pair of panels stay in the L1 and L2 caches; each C value is then the sum over the
/// depth in order, block by block, one fused multiply-add per term: fixed by the depth
/// alone, whatever the thread count, the other rows or columns, or where in a tile the
/// value falls. So a resumed run repeats the uninterrupted one bit for bit, and a row of
/// C is the same whatever other rows A holds (BLAS promises neither: OpenBLAS's Haswell
/// and Zen sgemm kernels sum in an order that depends on the matrix's size).
public enum KernelProducts {
    /// The depth of one pass (k blocks): 6 rows x 384 of X is 9 KiB, a pair of panels
    /// 384 x 32 floats 48 KiB.
    public static let depthBlock = 384

    public typealias Kernel = @Sendable (_ x: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ depth: Int,
                                  _ b: UnsafePointer<Float>, _ panelStride: Int, _ rowStride: Int, _ panels: Int,
                                  _ lastColumns: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                                  _ accumulate: Bool, _ chunkPanels: Int) -> Void

    public static func kernel(_ variant: KernelVariant) -> Kernel {
        switch variant {
        case .generic:
            return { _ConvKernels.Kernels.product(x: $0, lda: $1, rows: $2, depth: $3, b: $4, panelStride: $5, rowStride: $6, panels: $7, lastColumns: $8, c: $9, ldc: $10, accumulate: $11, chunkPanels: $12) }
        case .avx2:
            return { _ConvKernelsAVX2.Kernels.product(x: $0, lda: $1, rows: $2, depth: $3, b: $4, panelStride: $5, rowStride: $6, panels: $7, lastColumns: $8, c: $9, ldc: $10, accumulate: $11, chunkPanels: $12) }
        case .avx512:
            return { _ConvKernelsAVX512.Kernels.product(x: $0, lda: $1, rows: $2, depth: $3, b: $4, panelStride: $5, rowStride: $6, panels: $7, lastColumns: $8, c: $9, ldc: $10, accumulate: $11, chunkPanels: $12) }
        }
    }

    public static let chosenKernel = kernel(KernelVariant.chosen.variant)

    /// The variant `multiply` uses unless told otherwise (`KernelVariant.chosen`).
    public static var variant: KernelVariant { KernelVariant.chosen.variant }

    /// Whether `multiply` takes the product itself rather than passing it to sgemm: every
    /// kind but TT, once each dimension fills a tile.
    public static func handles(_ transposeA: BLAS.Transpose, _ transposeB: BLAS.Transpose, m: Int, n: Int, k: Int) -> Bool {
        !(transposeA == .transposed && transposeB == .transposed) && m >= 6 && n >= 16 && k >= 8
    }

    /// C = op(A) op(B) (beta 0) or C += op(A) op(B) (beta 1), row-major, as `BLAS.sgemm`
    /// with alpha 1; shapes `handles` refuses go to sgemm, unless `rowStable`: then every
    /// shape but TT runs here, however small, so that each row of C depends on its row of
    /// op(A) alone (`Tensor.assignRowStableProduct`). `threads` workers split C.
    public static func multiply(_ transposeA: BLAS.Transpose, _ transposeB: BLAS.Transpose, m: Int, n: Int, k: Int,
                                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                threads: Int = Parallel.defaultThreads, variant: KernelVariant? = nil,
                                rowStable: Bool = false) {
        precondition(beta == 0 || beta == 1, "KernelProducts.multiply takes beta 0 or 1, got \(beta)")
        if rowStable {
            precondition(!(transposeA == .transposed && transposeB == .transposed), "no row-stable TT product")
            guard m > 0, n > 0 else { return }
            if k == 0 {
                if beta == 0 { for r in 0..<m { (c + r * ldc).update(repeating: 0, count: n) } }
                return
            }
        }
        guard rowStable || handles(transposeA, transposeB, m: m, n: n, k: k) else {
            BLAS.sgemm(transposeA, transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
            return
        }
        BLAS.noteProduct(transposeA, transposeB, m: m, n: n, k: k)
        let kernel = variant.map(Self.kernel) ?? chosenKernel
        let scratch = Scratch.take()
        defer { Scratch.give(scratch) }
        let accumulate = beta == 1
        switch (transposeA, transposeB) {
        case (.none, .none):
            run(kernel, x: a, lda: lda, m: m, k: k, b: b, panelStride: 16, rowStride: ldb, n: n, tail: nil, packing: true,
                c: c, ldc: ldc, accumulate: accumulate, threads: threads, variant: variant)
        case (.transposed, .none):
            let x = scratch.buffer(0, m * k)
            for i in 0..<k {
                let row = a + i * lda
                for r in 0..<m { x[r * k + i] = row[r] }
            }
            run(kernel, x: x, lda: k, m: m, k: k, b: b, panelStride: 16, rowStride: ldb, n: n, tail: nil, packing: true,
                c: c, ldc: ldc, accumulate: accumulate, threads: threads, variant: variant)
        default:
            // C^T (n x m) = B (n x k, in place) A^T, A^T packed: panel q, row i = A[16q ..< 16q + 16, i].
            let panels = (m + 15) / 16
            let packed = scratch.buffer(0, panels * k * 16)
            for q in 0..<panels {
                let base = packed + q * k * 16, width = min(16, m - q * 16)
                for j in 0..<16 {
                    if j < width {
                        let row = a + (q * 16 + j) * lda
                        for i in 0..<k { base[i * 16 + j] = row[i] }
                    } else {
                        for i in 0..<k { base[i * 16 + j] = 0 }
                    }
                }
            }
            // B's rows a slab at a time, so that C^T's scratch stays near 1 MB whatever n is
            // (a base of 100k images against 256 queries would otherwise hold 100 MB).
            let slab = max(96, (1 << 18) / m / 6 * 6)
            let t = scratch.buffer(1, min(n, slab) * m)
            let tail: UnsafePointer<Float>? = m % 16 == 0 ? nil : UnsafePointer(packed + (m / 16) * k * 16)
            var s0 = 0
            while s0 < n {
                let rows = min(slab, n - s0)
                run(kernel, x: b + s0 * ldb, lda: ldb, m: rows, k: k, b: packed, panelStride: k * 16, rowStride: 16, n: m,
                    tail: tail, c: t, ldc: m, accumulate: false, threads: threads, variant: variant)
                for r in 0..<m {
                    let out = c + r * ldc + s0
                    if accumulate {
                        for j in 0..<rows { out[j] += t[j * m + r] }
                    } else {
                        for j in 0..<rows { out[j] = t[j * m + r] }
                    }
                }
                s0 += rows
            }
        }
    }

    /// C (m x n) (+)= X (m x k) B (k x n). B is either row-major in place (`packing`:
    /// row stride `rowStride`; each worker packs the chunk of it that its blocks of rows
    /// are about to go over, `Kernels.packPanels`) or already packed (n / 16 full panels
    /// at `b`, panel p, row i at b + p * panelStride + i * rowStride, the last partial
    /// panel [k, 16] at `tail`). The depth is split into even blocks of at most
    /// `depthBlock`. The workers take column ranges (pairs of panels) when there are at
    /// least 4 pairs per worker (so that the split is even to an eighth), else ranges of
    /// rows (blocks of 6): either way each C value is computed by one worker, in one order.
    public static func run(_ kernel: Kernel, x: UnsafePointer<Float>, lda: Int, m: Int, k: Int,
                    b: UnsafePointer<Float>, panelStride: Int, rowStride: Int, n: Int, tail: UnsafePointer<Float>?,
                    packing: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, threads: Int,
                    variant: KernelVariant? = nil) {
        let full = n / 16, lastColumns = n - full * 16
        let panels = full + (lastColumns > 0 ? 1 : 0)
        let blocks = (k + depthBlock - 1) / depthBlock, blockDepth = (k + blocks - 1) / blocks
        let pack = packer(variant ?? Self.variant)
        nonisolated(unsafe) let x = x, b = b, c = c, tail = tail
        @Sendable func work(rows: Range<Int>, panels range: Range<Int>) {
            let scratch = packing ? Scratch.take() : nil
            defer { if let scratch { Scratch.give(scratch) } }
            var k0 = 0
            while k0 < k {
                let depth = min(blockDepth, k - k0)
                let add = accumulate || k0 > 0
                var chunk = max(2, 256 * 1024 / (depth * 64))
                chunk += chunk & 1
                let xBlock = x + rows.lowerBound * lda + k0, cBlock = c + rows.lowerBound * ldc
                if let scratch {
                    let buffer = scratch.buffer(2, chunk * 16 * depth)
                    var q0 = range.lowerBound
                    while q0 < range.upperBound {
                        let q1 = min(range.upperBound, q0 + chunk)
                        let columns = min(n, 16 * q1) - 16 * q0
                        pack(b + k0 * rowStride + 16 * q0, rowStride, depth, columns, buffer)
                        kernel(xBlock, lda, rows.count, depth, buffer, 16 * depth, 16, q1 - q0, columns - 16 * (q1 - q0 - 1),
                               cBlock + 16 * q0, ldc, add, q1 - q0)
                        q0 = q1
                    }
                } else {
                    let mainEnd = min(range.upperBound, full)
                    if range.lowerBound < mainEnd {
                        kernel(xBlock, lda, rows.count, depth, b + range.lowerBound * panelStride + k0 * rowStride,
                               panelStride, rowStride, mainEnd - range.lowerBound, 16, cBlock + range.lowerBound * 16,
                               ldc, add, chunk)
                    }
                    if range.upperBound > full, let tail {
                        kernel(xBlock, lda, rows.count, depth, tail + k0 * 16, 0, 16, 1, lastColumns,
                               cBlock + full * 16, ldc, add, 1)
                    }
                }
                k0 += depth
            }
        }
        let pairs = (panels + 1) / 2
        if threads <= 1 {
            work(rows: 0..<m, panels: 0..<panels)
        } else if pairs >= 4 * threads {
            Parallel.forEachChunk(pairs, threads: threads) { _, range in
                work(rows: 0..<m, panels: 2 * range.lowerBound ..< min(panels, 2 * range.upperBound))
            }
        } else {
            let blocks = (m + 5) / 6
            Parallel.forEachChunk(blocks, threads: threads) { _, range in
                work(rows: 6 * range.lowerBound ..< min(m, 6 * range.upperBound), panels: 0..<panels)
            }
        }
    }

    public typealias Packer = @Sendable (_ b: UnsafePointer<Float>, _ ldb: Int, _ depth: Int, _ columns: Int,
                                  _ out: UnsafeMutablePointer<Float>) -> Void

    public static func packer(_ variant: KernelVariant) -> Packer {
        switch variant {
        case .generic: return { _ConvKernels.Kernels.packPanels($0, ldb: $1, depth: $2, columns: $3, into: $4) }
        case .avx2: return { _ConvKernelsAVX2.Kernels.packPanels($0, ldb: $1, depth: $2, columns: $3, into: $4) }
        case .avx512: return { _ConvKernelsAVX512.Kernels.packPanels($0, ldb: $1, depth: $2, columns: $3, into: $4) }
        }
    }

    /// Reusable scratch (one per product running at once; trainers in parallel tests
    /// each take their own).
    public final class Scratch: @unchecked Sendable {
        private var buffers: [(pointer: UnsafeMutablePointer<Float>, count: Int)] = []

        nonisolated(unsafe) private static var pool: [Scratch] = []
        private static let lock = NSLock()

        public static func take() -> Scratch {
            lock.lock()
            defer { lock.unlock() }
            return pool.popLast() ?? Scratch()
        }

        public static func give(_ scratch: Scratch) {
            lock.lock()
            pool.append(scratch)
            lock.unlock()
        }

        /// Buffer `index`, at least `count` floats (contents undefined).
        public func buffer(_ index: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
            while buffers.count <= index { buffers.append((Self.allocate(16), 16)) }
            if buffers[index].count < count {
                buffers[index].pointer.deallocate()
                buffers[index] = (Self.allocate(count), count)
            }
            return buffers[index].pointer
        }

        private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
            UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        }

        deinit {
            for buffer in buffers { buffer.pointer.deallocate() }
        }
    }
}

extension Tensor {
    /// self = a op(b), op(b) being b or b^T, on taggan's own kernel (`KernelProducts`),
    /// never BLAS: each row of the result is computed from the same row of `a` alone, one
    /// fused multiply-add per term in one fixed order, so it is the same bit for bit
    /// whatever other rows `a` holds (on one kernel variant). For products over a batch of
    /// images whose results must not depend on the batch: annotate tags a folder whole,
    /// in shards or a few images at a time, and an image's tags are the same each way.
    /// sgemm cannot promise that: OpenBLAS's Haswell and Zen kernels (every AVX2-only CPU)
    /// sum in an order that depends on the number of rows.
    /// `threads` workers split the result (1 inside a caller's own parallel loop).
    ///
    /// With `transposeA` (op(a) = a^T), each value is likewise one fixed-order sum of its
    /// own terms: the same bits whatever the thread count, the BLAS library or its kernel
    /// (a ridge fit's X^T X, made alike on every node of a cluster).
    public mutating func assignRowStableProduct(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                                                threads: Int = Parallel.defaultThreads) {
        let m = transposeA ? a.columns : a.rows, k = transposeA ? a.rows : a.columns, n = transposeB ? b.rows : b.columns
        precondition(k == (transposeB ? b.columns : b.rows), "inner dimensions differ: \(a.shape) and \(b.shape)")
        if count != m * n { self = Tensor(zeros: [m, n]) } else { resize(to: [m, n]) }
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                withUnsafeMutableBufferPointer { pc in
                    KernelProducts.multiply(transposeA ? .transposed : .none, transposeB ? .transposed : .none, m: m, n: n, k: k,
                                            a: pa.baseAddress!, lda: a.columns,
                                            b: pb.baseAddress!, ldb: b.columns, beta: 0, c: pc.baseAddress!, ldc: n, threads: threads,
                                            rowStable: true)
                }
            }
        }
    }

    /// `assignRowStableProduct` as a new matrix.
    public static func rowStableProduct(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        var c = Tensor(zeros: [0])
        c.assignRowStableProduct(a, b, transposeA: transposeA, transposeB: transposeB)
        return c
    }
}
