import Foundation
import TagganCore
import _ConvKernels
import _ConvKernelsAVX2
import _ConvKernelsAVX512

/// The training step's matrix products on taggan's own kernel (`Kernels.product` in
/// `_ConvKernels`: the conv net's 1x1 tiles, 6 x 16, 6 x 32 in the AVX-512 build),
/// compiled once per `KernelVariant` and chosen at run time as the conv net's are.
///
/// Why not sgemm for these: the products have M = 100-300 rows (the batch) against
/// weights up to 1700 x 3000 that change every step. sgemm packs both operands on every
/// call and, on 2 threads, splits the 100 rows between the threads; here the threads
/// split the columns of C, so each reads and packs only its half of the weights
/// (`taggan bench gemm` measures both, shape by shape).
///
///   NN  C = A B:    X = A, B packed by each worker a chunk at a time (`run`);
///   TN  C = A^T B:  X = A^T (A is the batch's activations: transposed into scratch), B as for NN;
///   NT  C = A B^T:  computed as C^T = B A^T, X = B in place (the weights), A^T packed
///                   (the batch's gradients), then C = (C^T)^T.
///
/// The depth is taken in blocks of `depthBlock` so that a block of six rows of X and a
/// pair of panels stay in the L1 and L2 caches; each C value is then the sum over the
/// depth in order, block by block: fixed for a given shape whatever the thread count, so
/// a resumed run repeats the uninterrupted one bit for bit.
public enum Products {
    /// The depth of one pass (k blocks): 6 rows x 384 of X is 9 KiB, a pair of panels
    /// 384 x 32 floats 48 KiB.
    static let depthBlock = 384

    typealias Kernel = @Sendable (_ x: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ depth: Int,
                                  _ b: UnsafePointer<Float>, _ panelStride: Int, _ rowStride: Int, _ panels: Int,
                                  _ lastColumns: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                                  _ accumulate: Bool, _ chunkPanels: Int) -> Void

    static func kernel(_ variant: KernelVariant) -> Kernel {
        switch variant {
        case .generic:
            return { _ConvKernels.Kernels.product(x: $0, lda: $1, rows: $2, depth: $3, b: $4, panelStride: $5, rowStride: $6, panels: $7, lastColumns: $8, c: $9, ldc: $10, accumulate: $11, chunkPanels: $12) }
        case .avx2:
            return { _ConvKernelsAVX2.Kernels.product(x: $0, lda: $1, rows: $2, depth: $3, b: $4, panelStride: $5, rowStride: $6, panels: $7, lastColumns: $8, c: $9, ldc: $10, accumulate: $11, chunkPanels: $12) }
        case .avx512:
            return { _ConvKernelsAVX512.Kernels.product(x: $0, lda: $1, rows: $2, depth: $3, b: $4, panelStride: $5, rowStride: $6, panels: $7, lastColumns: $8, c: $9, ldc: $10, accumulate: $11, chunkPanels: $12) }
        }
    }

    static let chosenKernel = kernel(KernelVariant.chosen.variant)

    /// The variant `multiply` uses unless told otherwise (`KernelVariant.chosen`).
    public static var variant: KernelVariant { KernelVariant.chosen.variant }

    /// Whether the GAN's networks (`Generator`, `Discriminator`) give the products
    /// `prefers` to `multiply` (`TAGGAN_GAN_PRODUCTS=own`) or leave every product to
    /// sgemm (the default). Off by default because, measured in the whole step, it was
    /// slower: 8.8-9.8 steps/s against sgemm's 10.5-11.4 (paper's step, 2 threads, three
    /// alternating rounds, BENCHMARKS.md, TagGAN), although each of those products alone
    /// was faster (`taggan bench gemm`). The likely cause: OpenBLAS's threads spin after
    /// each of its calls and take the core from Parallel's worker that runs next. The
    /// class-conditional networks always use sgemm.
    public static let enabled = ProcessInfo.processInfo.environment["TAGGAN_GAN_PRODUCTS"]?.lowercased() == "own"

    /// The products the step gives to `multiply` rather than sgemm: those where it was
    /// faster in both of two `taggan bench gemm` runs on an Intel Xeon (AVX-512, 2 threads,
    /// BENCHMARKS.md, TagGAN): x W of the 1200- and 2000-unit feature layers and of the
    /// maxout layer's image rows (NN, k and n >= 1000: 165-225 GFLOP/s against sgemm's
    /// 115-189), and that maxout weight's gradient (TN 1200 x 3000 x 100: 166 against
    /// 139). On the thinner products and on every NT one sgemm was as fast or faster.
    public static func prefers(_ transposeA: BLAS.Transpose, _ transposeB: BLAS.Transpose, m: Int, n: Int, k: Int) -> Bool {
        switch (transposeA, transposeB) {
        case (.none, .none): return k >= 1000 && n >= 1000
        case (.transposed, .none): return m >= 1000 && n >= 2500
        default: return false
        }
    }

    /// Whether the GAN's products run as two one-thread sgemm calls on the halves of C
    /// (`split`), the BLAS library held at one thread during the step
    /// (`GANTrainer.trainStep`), instead of one call that the library threads itself.
    /// Measured in the whole step (BENCHMARKS.md, TagGAN, branch `gan`): OpenBLAS's worker
    /// no longer spins in sched_yield (18% of the step's cycles) beside the element-wise
    /// passes' workers. On unless `TAGGAN_GAN_SPLIT=0`.
    public static let splitting = ProcessInfo.processInfo.environment["TAGGAN_GAN_SPLIT"] != "0"

    /// C = op(A) op(B) as two one-thread sgemm calls on two workers, each on half of C's
    /// columns (or of its rows when C has more rows than columns), so that no BLAS
    /// thread is left spinning between the products while taggan's own workers run the
    /// element-wise passes. Small products run as one call on the calling thread. The
    /// halves are fixed by the shape, so results do not depend on scheduling.
    static func split(_ ta: BLAS.Transpose, _ tb: BLAS.Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let byColumns = n >= m
        let long = byColumns ? n : m
        // Only while BLAS runs one thread (the training step sets it): two threaded calls
        // at once would ask for four threads on two cores.
        guard m * n * k >= 1 << 21 && long >= 64 && Parallel.defaultThreads >= 2 && BLAS.currentThreads == 1 else {
            BLAS.sgemm(ta, tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        BLAS.noteProduct(ta, tb, m: m, n: n, k: k)
        nonisolated(unsafe) let a = a, b = b, c = c
        let half = (long / 2 + 15) / 16 * 16
        Parallel.forEachChunk(2, threads: 2) { part, _ in
            let start = part == 0 ? 0 : half, end = part == 0 ? half : long
            if byColumns {
                BLAS.sgemm(ta, tb, m: m, n: end - start, k: k, alpha: alpha, a: a, lda: lda,
                           b: b + (tb == .transposed ? start * ldb : start), ldb: ldb, beta: beta, c: c + start, ldc: ldc,
                           recorded: false)
            } else {
                BLAS.sgemm(ta, tb, m: end - start, n: n, k: k, alpha: alpha, a: a + (ta == .transposed ? start : start * lda),
                           lda: lda, b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc, recorded: false)
            }
        }
    }

    /// `multiply` when `own`, `enabled` and `prefers` (and alpha is 1), else sgemm: the
    /// layers' one call, C = alpha op(A) op(B) + beta C.
    @inline(__always)
    static func product(_ transposeA: BLAS.Transpose, _ transposeB: BLAS.Transpose, m: Int, n: Int, k: Int,
                        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, own: Bool) {
        if own && enabled && alpha == 1 && prefers(transposeA, transposeB, m: m, n: n, k: k) {
            multiply(transposeA, transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else if own && splitting {
            split(transposeA, transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
                  c: c, ldc: ldc)
        } else {
            BLAS.sgemm(transposeA, transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
        }
    }

    /// c = alpha op(a) op(b) (+ c when beta is 1), as `Tensor.assignProduct`, through `product`.
    static func assign(_ c: inout Tensor, _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                       alpha: Float = 1, beta: Float = 0, own: Bool) {
        let m = transposeA ? a.columns : a.rows, k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns
        precondition(k == (transposeB ? b.columns : b.rows), "inner dimensions differ: \(a.shape) and \(b.shape)")
        if beta == 0 {
            if c.count != m * n { c = Tensor(zeros: [m, n]) } else { c.resize(to: [m, n]) }
        } else {
            precondition(c.rows == m && c.columns == n, "accumulating into shape \(c.shape), product is \(m)x\(n)")
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    product(transposeA ? .transposed : .none, transposeB ? .transposed : .none, m: m, n: n, k: k,
                            alpha: alpha, a: pa.baseAddress!, lda: a.columns, b: pb.baseAddress!, ldb: b.columns, beta: beta,
                            c: pc.baseAddress!, ldc: n, own: own)
                }
            }
        }
    }

    /// Whether `multiply` takes the product itself rather than passing it to sgemm: every
    /// kind but TT, once each dimension fills a tile.
    public static func handles(_ transposeA: BLAS.Transpose, _ transposeB: BLAS.Transpose, m: Int, n: Int, k: Int) -> Bool {
        !(transposeA == .transposed && transposeB == .transposed) && m >= 6 && n >= 16 && k >= 8
    }

    /// C = op(A) op(B) (beta 0) or C += op(A) op(B) (beta 1), row-major, as `BLAS.sgemm`
    /// with alpha 1; shapes `handles` refuses go to sgemm. `threads` workers split C.
    public static func multiply(_ transposeA: BLAS.Transpose, _ transposeB: BLAS.Transpose, m: Int, n: Int, k: Int,
                                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                threads: Int = Parallel.defaultThreads, variant: KernelVariant? = nil) {
        precondition(beta == 0 || beta == 1, "Products.multiply takes beta 0 or 1, got \(beta)")
        guard handles(transposeA, transposeB, m: m, n: n, k: k) else {
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
            let t = scratch.buffer(1, n * m)
            let tail: UnsafePointer<Float>? = m % 16 == 0 ? nil : UnsafePointer(packed + (m / 16) * k * 16)
            run(kernel, x: b, lda: ldb, m: n, k: k, b: packed, panelStride: k * 16, rowStride: 16, n: m, tail: tail,
                c: t, ldc: m, accumulate: false, threads: threads, variant: variant)
            for r in 0..<m {
                let out = c + r * ldc
                if accumulate {
                    for j in 0..<n { out[j] += t[j * m + r] }
                } else {
                    for j in 0..<n { out[j] = t[j * m + r] }
                }
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
    static func run(_ kernel: Kernel, x: UnsafePointer<Float>, lda: Int, m: Int, k: Int,
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

    typealias Packer = @Sendable (_ b: UnsafePointer<Float>, _ ldb: Int, _ depth: Int, _ columns: Int,
                                  _ out: UnsafeMutablePointer<Float>) -> Void

    static func packer(_ variant: KernelVariant) -> Packer {
        switch variant {
        case .generic: return { _ConvKernels.Kernels.packPanels($0, ldb: $1, depth: $2, columns: $3, into: $4) }
        case .avx2: return { _ConvKernelsAVX2.Kernels.packPanels($0, ldb: $1, depth: $2, columns: $3, into: $4) }
        case .avx512: return { _ConvKernelsAVX512.Kernels.packPanels($0, ldb: $1, depth: $2, columns: $3, into: $4) }
        }
    }

    /// Reusable scratch (one per product running at once; trainers in parallel tests
    /// each take their own).
    final class Scratch: @unchecked Sendable {
        private var buffers: [(pointer: UnsafeMutablePointer<Float>, count: Int)] = []

        nonisolated(unsafe) private static var pool: [Scratch] = []
        private static let lock = NSLock()

        static func take() -> Scratch {
            lock.lock()
            defer { lock.unlock() }
            return pool.popLast() ?? Scratch()
        }

        static func give(_ scratch: Scratch) {
            lock.lock()
            pool.append(scratch)
            lock.unlock()
        }

        /// Buffer `index`, at least `count` floats (contents undefined).
        func buffer(_ index: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
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
