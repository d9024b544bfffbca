import Foundation
import Testing
import TagganCore

@Suite("Kernel products")
struct KernelProductsTests {
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
        #expect(!KernelProducts.handles(.none, .none, m: 200, n: 1, k: 1000))
        #expect(!KernelProducts.handles(.none, .transposed, m: 200, n: 1000, k: 1))
        #expect(!KernelProducts.handles(.transposed, .transposed, m: 200, n: 200, k: 200))
        #expect(KernelProducts.handles(.transposed, .none, m: 500, n: 3000, k: 200))
        let error = Self.largestError(.none, .none, m: 200, n: 1, k: 1000, beta: 1, threads: 2, variant: .generic)
        #expect(error < 1e-5)
    }

    /// A row-stable product's row is the same bits whatever other rows A holds. For every
    /// variant this CPU runs, NN and NT, one and two workers, shapes from 1 x 1 x 1 to past
    /// a depth block with a partial last panel and past one NT slab: each row of a 23-row product equals that
    /// row computed alone and in a shuffled 7-row subset (where it falls at another place
    /// in its 6-row tile, and for NT in its 16-column panel and in a lone panel rather than
    /// a pair), and every value matches a double-precision reference.
    @Test(arguments: KernelVariant.allCases.filter(\.isSupported))
    func rowStableRowsDependOnTheirOwnRowAlone(variant: KernelVariant) {
        let m = 23, subset = [5, 0, 22, 11, 17, 3, 8]
        // (11500 x 9: NT takes B's rows in slabs, 11394 of them at 23 rows of A.)
        for (n, k) in [(1, 1), (5, 3), (16, 8), (40, 7), (17, 385), (100, 1280), (11500, 9)] {
            for tb in [BLAS.Transpose.none, .transposed] {
                var random = SeededRandom(seed: UInt64(n * 31 + k))
                var a = [Float](repeating: 0, count: m * k), b = [Float](repeating: 0, count: n * k)
                a.withUnsafeMutableBufferPointer { random.fillUniform($0, in: -1..<1) }
                b.withUnsafeMutableBufferPointer { random.fillUniform($0, in: -1..<1) }
                let ldb = tb == .transposed ? k : n
                func rows(_ picked: [Int], threads: Int) -> [[Float]] {
                    let x = picked.flatMap { a[$0 * k ..< ($0 + 1) * k] }
                    var c = [Float](repeating: .nan, count: picked.count * n)
                    KernelProducts.multiply(.none, tb, m: picked.count, n: n, k: k, a: x, lda: k, b: b, ldb: ldb,
                                            beta: 0, c: &c, ldc: n, threads: threads, variant: variant, rowStable: true)
                    return picked.indices.map { Array(c[$0 * n ..< ($0 + 1) * n]) }
                }
                let whole = rows(Array(0..<m), threads: 2)
                let label = "\(variant) \(tb == .transposed ? "NT" : "NN") \(m)x\(n)x\(k)"
                #expect(rows(Array(0..<m), threads: 1) == whole, "\(label): one worker differs from two")
                for (place, row) in subset.enumerated() {
                    #expect(rows(subset, threads: 2)[place] == whole[row], "\(label): row \(row) in a subset differs")
                    #expect(rows([row], threads: 1)[0] == whole[row], "\(label): row \(row) alone differs")
                }
                var error = 0.0, largest = 1e-30
                for r in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0
                        for i in 0..<k { sum += Double(a[r * k + i]) * Double(tb == .transposed ? b[j * k + i] : b[i * n + j]) }
                        largest = max(largest, abs(sum))
                        error = max(error, abs(sum - Double(whole[r][j])))
                    }
                }
                #expect(error / largest < 1e-5, "\(label): relative error \(error / largest)")
            }
        }
    }

    /// The Tensor form: the shape it is given, zeros for a depth of 0, nothing for no rows.
    @Test func rowStableTensorProductHandlesEmptyShapes() {
        var c = Tensor(shape: [2, 2], values: [9, 9, 9, 9])
        c.assignRowStableProduct(Tensor(zeros: [2, 0]), Tensor(zeros: [0, 2]))
        #expect(c.shape == [2, 2] && c.storage == [0, 0, 0, 0])
        c.assignRowStableProduct(Tensor(zeros: [0, 3]), Tensor(zeros: [4, 3]), transposeB: true)
        #expect(c.shape == [0, 4] && c.count == 0)
        let product = Tensor.rowStableProduct(Tensor(shape: [1, 2], values: [1, 2]), Tensor(shape: [2, 1], values: [3, 4]))
        #expect(product.shape == [1, 1] && product.storage == [11])
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
        KernelProducts.multiply(ta, tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &c, ldc: n, threads: threads)
        return c
    }

    /// max |C - C_reference| / max |C_reference|, C starting from a pattern when beta is 1.
    static func largestError(_ ta: BLAS.Transpose, _ tb: BLAS.Transpose, m: Int, n: Int, k: Int, beta: Float,
                             threads: Int, variant: KernelVariant) -> Double {
        let (a, lda, b, ldb) = operands(ta, tb, m: m, n: n, k: k)
        let ldc = n + 2
        let start = (0 ..< m * ldc).map { Float($0 % 11) - 5 }
        var c = start
        KernelProducts.multiply(ta, tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c, ldc: ldc,
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
