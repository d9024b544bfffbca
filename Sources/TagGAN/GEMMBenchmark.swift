import Foundation
import TagganCore

/// Times a list of matrix products (`taggan bench gemm`: the GAN step's, `StepProducts`)
/// several ways, so that a faster route for the training step's products shows up per
/// shape before the step uses it:
///
/// - `blas1`, `blas2`: BLAS sgemm as the step calls it, the library at 1 and 2 threads;
/// - `split2`: two workers, each a one-thread sgemm on half of C (its columns, or its rows
///   when there are more rows than columns), instead of the library splitting M = 100;
/// - `own1`, `own2`: `KernelProducts.multiply` (the conv net's 1x1 tiles, the big operand read
///   in place) on 1 and 2 threads;
/// - `packed1`: the 1x1 kernel as the conv net uses it, op(B) packed into panels of 16
///   columns on every call (the training operands change every step), one thread.
///
/// Each figure is the best of short timed runs (about half a millisecond each, within the
/// time given) on the same operands, in GFLOP/s (2 m n k per product). Every way's C is
/// checked against sgemm's (`Result.largestDifference`).
public enum GEMMBenchmark {
    public struct Result: Sendable {
        public let shape: ProductShape
        /// (method, GFLOP/s) in `methods` order.
        public let gflops: [(method: String, gflops: Double)]
        /// The largest |C - C_sgemm| over the other ways, relative to the largest |C_sgemm|.
        public let largestDifference: Double
    }

    public static let methods = ["blas1", "blas2", "split2", "own1", "own2", "packed1"]

    /// Every method on every shape, about `seconds` per measurement; BLAS is left at
    /// `restoreThreads` threads.
    public static func run(_ shapes: [ProductShape], seconds: Double = 0.15, restoreThreads: Int) throws -> [Result] {
        var results: [Result] = []
        for shape in shapes {
            let m = shape.m, n = shape.n, k = shape.k
            let ta = shape.transposeA, tb = shape.transposeB
            // Stored operands: A m x k (k x m when transposed), B k x n (n x k when transposed).
            let a = values(m * k, seed: 1), b = values(k * n, seed: 2)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            let reference = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer {
                a.deallocate(); b.deallocate(); c.deallocate(); reference.deallocate()
            }
            let lda = ta == .transposed ? m : k, ldb = tb == .transposed ? k : n
            nonisolated(unsafe) let pa = UnsafePointer(a), pb = UnsafePointer(b), pc = c
            func blas() {
                BLAS.sgemm(ta, tb, m: m, n: n, k: k, alpha: 1, a: pa, lda: lda, b: pb, ldb: ldb, beta: 0, c: pc, ldc: n)
            }
            var rates: [(String, Double)] = []
            var difference: Float = 0
            let scale: Float
            do {
                try BLAS.setThreads(1)
                blas()
                reference.update(from: c, count: m * n)
                scale = max((0..<(m * n)).reduce(0) { max($0, abs(reference[$1])) }, .leastNormalMagnitude)
            }
            func measure(_ method: String, _ body: () -> Void) {
                c.update(repeating: .nan, count: m * n)
                let time = best(seconds, body)
                rates.append((method, shape.operations / time / 1e9))
                for i in 0..<(m * n) {
                    let d = abs(c[i] - reference[i])
                    difference = d.isNaN ? .infinity : max(difference, d)
                }
            }
            measure("blas1") { blas() }
            try BLAS.setThreads(2)
            measure("blas2") { blas() }
            try BLAS.setThreads(1)
            let byColumns = n >= m
            measure("split2") {
                Parallel.forEachChunk(2, threads: 2) { half, _ in
                    if byColumns {
                        let n0 = half == 0 ? 0 : n / 2, n1 = half == 0 ? n / 2 : n
                        BLAS.sgemm(ta, tb, m: m, n: n1 - n0, k: k, alpha: 1, a: pa, lda: lda,
                                   b: pb + (tb == .transposed ? n0 * ldb : n0), ldb: ldb, beta: 0, c: pc + n0, ldc: n)
                    } else {
                        let m0 = half == 0 ? 0 : m / 2, m1 = half == 0 ? m / 2 : m
                        BLAS.sgemm(ta, tb, m: m1 - m0, n: n, k: k, alpha: 1, a: pa + (ta == .transposed ? m0 : m0 * lda),
                                   lda: lda, b: pb, ldb: ldb, beta: 0, c: pc + m0 * n, ldc: n)
                    }
                }
            }
            measure("own1") {
                KernelProducts.multiply(ta, tb, m: m, n: n, k: k, a: pa, lda: lda, b: pb, ldb: ldb, beta: 0, c: pc, ldc: n, threads: 1)
            }
            measure("own2") {
                KernelProducts.multiply(ta, tb, m: m, n: n, k: k, a: pa, lda: lda, b: pb, ldb: ldb, beta: 0, c: pc, ldc: n, threads: 2)
            }
            // The conv net's way: op(A) as dense rows, op(B) packed [panel][k][16], both on every call.
            let panels = (n + 15) / 16
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: panels * k * 16)
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            defer { packed.deallocate(); rows.deallocate() }
            measure("packed1") {
                for p in 0..<panels {
                    for i in 0..<k {
                        for j in 0..<16 {
                            let column = p * 16 + j
                            packed[(p * k + i) * 16 + j] = column >= n ? 0
                                : tb == .transposed ? pb[column * ldb + i] : pb[i * ldb + column]
                        }
                    }
                }
                var x = pa
                if ta == .transposed {
                    for i in 0..<k { for r in 0..<m { rows[r * k + i] = pa[i * lda + r] } }
                    x = UnsafePointer(rows)
                }
                let full = n / 16
                KernelProducts.run(KernelProducts.chosenKernel, x: x, lda: ta == .transposed ? k : lda, m: m, k: k, b: packed,
                             panelStride: k * 16, rowStride: 16, n: n, tail: n % 16 == 0 ? nil : UnsafePointer(packed + full * k * 16),
                             c: pc, ldc: n, accumulate: false, threads: 1)
            }
            results.append(Result(shape: shape, gflops: rates, largestDifference: Double(difference / scale)))
        }
        try BLAS.setThreads(restoreThreads)
        return results
    }

    /// `count` values in [-1, 1), a fixed pattern per seed.
    static func values(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        var random = SeededRandom(seed: seed)
        random.fillUniform(UnsafeMutableBufferPointer(start: p, count: count), in: -1..<1)
        return p
    }

    /// Best seconds per call of `body` over runs of about 0.5 ms within `seconds`.
    static func best(_ seconds: Double, _ body: () -> Void) -> Double {
        body()
        var start = DispatchTime.now().uptimeNanoseconds
        body()
        let once = max(1, DispatchTime.now().uptimeNanoseconds - start)
        let calls = max(1, Int(500_000 / once))
        var best = Double.infinity
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        repeat {
            start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { body() }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(calls))
        } while DispatchTime.now().uptimeNanoseconds < deadline
        return best
    }
}
