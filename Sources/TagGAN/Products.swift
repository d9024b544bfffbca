import Foundation
import TagganCore

/// Which of the GAN training step's matrix products run on taggan's own kernel
/// (`KernelProducts`) and which on sgemm, and sgemm split between two one-thread calls.
///
/// Why not sgemm for some: the products have M = 100-300 rows (the batch) against
/// weights up to 1700 x 3000 that change every step. sgemm packs both operands on every
/// call and, on 2 threads, splits the 100 rows between the threads; `KernelProducts`
/// splits the columns of C, so each thread reads and packs only its half of the weights
/// (`taggan bench gemm` measures both, shape by shape).
public enum Products {
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
            KernelProducts.multiply(transposeA, transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
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
}
