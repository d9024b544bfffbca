import Foundation
import Testing
import TagganCore
@testable import TagGAN

@Suite("TagGAN products")
struct ProductsTests {
    /// Every variant this CPU runs, every kind the step uses (NN, TN, NT), beta 0 and 1,
    /// one and two workers, against a double-precision reference: shapes with a partial
    /// last panel, a row count that is not a multiple of 6, a depth over two depth blocks
    /// and strides wider than the matrices, so every edge of the tiling is crossed.
    @Test(arguments: KernelVariant.allCases.filter(\.isSupported))
    func matchesTheReferenceForEveryKindAndEdge(variant: KernelVariant) {
        let shapes = [(13, 37, 777), (100, 3000, 17), (6, 16, 8), (60, 500, 3000 / 7), (50, 21, 100)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(BLAS.Transpose.none, BLAS.Transpose.none), (.transposed, .none), (.none, .transposed)] {
                for beta: Float in [0, 1] {
                    for threads in [1, 2] {
                        let error = Self.largestError(ta, tb, m: m, n: n, k: k, beta: beta, threads: threads, variant: variant)
                        #expect(error < 1e-5, "\(variant) \(ta) \(tb) \(m)x\(n)x\(k) beta \(beta) threads \(threads): \(error)")
                    }
                }
            }
        }
    }

    /// The columns each worker takes do not change any value: one and two workers give
    /// the same bits (what keeps a resumed run equal to an uninterrupted one).
    @Test func resultsDoNotDependOnTheWorkerCount() {
        for (ta, tb) in [(BLAS.Transpose.none, BLAS.Transpose.none), (.transposed, .none), (.none, .transposed)] {
            let one = Self.product(ta, tb, m: 100, n: 3000, k: 500, threads: 1)
            let two = Self.product(ta, tb, m: 100, n: 3000, k: 500, threads: 2)
            #expect(one == two, "\(ta) \(tb)")
        }
    }

    @Test func shapesBelowATileGoToBLAS() {
        #expect(!Products.handles(.none, .none, m: 200, n: 1, k: 1000))
        #expect(!Products.handles(.none, .transposed, m: 200, n: 1000, k: 1))
        #expect(!Products.handles(.transposed, .transposed, m: 200, n: 200, k: 200))
        #expect(Products.handles(.transposed, .none, m: 500, n: 3000, k: 200))
        let error = Self.largestError(.none, .none, m: 200, n: 1, k: 1000, beta: 1, threads: 2, variant: .generic)
        #expect(error < 1e-5)
    }

    static func operands(_ ta: BLAS.Transpose, _ tb: BLAS.Transpose, m: Int, n: Int, k: Int)
        -> (a: [Float], lda: Int, b: [Float], ldb: Int) {
        var random = SeededRandom(seed: UInt64(m * 7 + n * 13 + k))
        // Strides wider than the rows, with garbage between them.
        let lda = (ta == .transposed ? m : k) + 3, ldb = (tb == .transposed ? k : n) + 5
        let aRows = ta == .transposed ? k : m, bRows = tb == .transposed ? n : k
        var a = [Float](repeating: 0, count: aRows * lda), b = [Float](repeating: 0, count: bRows * ldb)
        a.withUnsafeMutableBufferPointer { random.fillUniform($0, in: -1..<1) }
        b.withUnsafeMutableBufferPointer { random.fillUniform($0, in: -1..<1) }
        return (a, lda, b, ldb)
    }

    static func product(_ ta: BLAS.Transpose, _ tb: BLAS.Transpose, m: Int, n: Int, k: Int, threads: Int) -> [Float] {
        let (a, lda, b, ldb) = operands(ta, tb, m: m, n: n, k: k)
        var c = [Float](repeating: 0, count: m * n)
        Products.multiply(ta, tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &c, ldc: n, threads: threads)
        return c
    }

    /// max |C - C_reference| / max |C_reference|, C starting from a pattern when beta is 1.
    static func largestError(_ ta: BLAS.Transpose, _ tb: BLAS.Transpose, m: Int, n: Int, k: Int, beta: Float,
                             threads: Int, variant: KernelVariant) -> Double {
        let (a, lda, b, ldb) = operands(ta, tb, m: m, n: n, k: k)
        let ldc = n + 2
        let start = (0 ..< m * ldc).map { Float($0 % 11) - 5 }
        var c = start
        Products.multiply(ta, tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c, ldc: ldc,
                          threads: threads, variant: variant)
        var largest = 0.0, error = 0.0
        for r in 0..<m {
            for j in 0..<n {
                var sum = beta == 1 ? Double(start[r * ldc + j]) : 0
                for i in 0..<k {
                    let x = ta == .transposed ? a[i * lda + r] : a[r * lda + i]
                    let y = tb == .transposed ? b[j * ldb + i] : b[i * ldb + j]
                    sum += Double(x) * Double(y)
                }
                largest = max(largest, abs(sum))
                error = max(error, abs(sum - Double(c[r * ldc + j])))
            }
            // The padding between rows of C is left alone.
            for j in n..<ldc where c[r * ldc + j] != start[r * ldc + j] { return .infinity }
        }
        return error / max(largest, 1e-30)
    }
}
