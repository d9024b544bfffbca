import Testing
@testable import TagganCore

/// sgemm through the loaded BLAS against a naive triple loop in Double.
@Suite("Matrix products through BLAS")
struct GEMMTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let m: Int, n: Int, k: Int
        let transposeA: Bool, transposeB: Bool
        let alpha: Float, beta: Float
        var testDescription: String {
            "\(m)x\(n)x\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N") alpha \(alpha) beta \(beta)"
        }
    }

    /// Every transpose combination over the odd sizes 1, 7, 33, 257 in each position,
    /// with and without alpha/beta scaling.
    static let cases: [Case] = {
        let shapes = [(1, 1, 1), (7, 7, 7), (33, 33, 33), (1, 7, 33), (7, 33, 257), (33, 257, 1),
                      (257, 1, 7), (257, 33, 7), (1, 257, 33), (257, 257, 257)]
        var cases: [Case] = []
        for (m, n, k) in shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    cases.append(Case(m: m, n: n, k: k, transposeA: ta, transposeB: tb, alpha: 1, beta: 0))
                    cases.append(Case(m: m, n: n, k: k, transposeA: ta, transposeB: tb, alpha: -1.5, beta: 0.5))
                }
            }
        }
        return cases
    }()

    @Test("agrees with a naive reference to float rounding", arguments: cases)
    func agreesWithReference(_ c: Case) throws {
        _ = try BLAS.backend()
        var random = SeededRandom(seed: UInt64(c.m * 1_000_003 + c.n * 1009 + c.k))
        // Stored shapes: A is m x k (k x m when transposed), B is k x n (n x k).
        let a = Tensor.uniform(shape: c.transposeA ? [c.k, c.m] : [c.m, c.k], in: -1..<1, using: &random)
        let b = Tensor.uniform(shape: c.transposeB ? [c.n, c.k] : [c.k, c.n], in: -1..<1, using: &random)
        let c0 = Tensor.uniform(shape: [c.m, c.n], in: -1..<1, using: &random)
        var product = c0
        product.assignProduct(a, b, transposeA: c.transposeA, transposeB: c.transposeB,
                              alpha: c.alpha, beta: c.beta)
        #expect(product.shape == [c.m, c.n])

        // The reference reads the row-major storage in Double (plain arrays: the test
        // target is unoptimised, and Tensor subscripts here cost ~1 minute per run).
        let av = a.storage.map(Double.init), bv = b.storage.map(Double.init)
        let cv = c0.storage.map(Double.init), pv = product.storage
        var worst = 0.0
        for i in 0..<c.m {
            for j in 0..<c.n {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<c.k {
                    let x = c.transposeA ? av[p * c.m + i] : av[i * c.k + p]
                    let y = c.transposeB ? bv[j * c.k + p] : bv[p * c.n + j]
                    exact += x * y
                    magnitude += abs(x * y)
                }
                let expected = Double(c.alpha) * exact + Double(c.beta) * cv[i * c.n + j]
                // Float rounding bound: each of k products and sums may lose half an ulp;
                // allow 2 k eps of the magnitude, plus the scaling steps.
                let bound = 2 * Double(c.k + 2) * Double(Float.ulpOfOne)
                    * (abs(Double(c.alpha)) * magnitude + abs(Double(c.beta) * cv[i * c.n + j])) + 1e-30
                worst = max(worst, abs(Double(pv[i * c.n + j]) - expected) / bound)
            }
        }
        #expect(worst <= 1, "largest error is \(worst) times the rounding bound")
    }

    @Test func matmulAllocatesTheProductShape() throws {
        _ = try BLAS.backend()
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], values: [7, 8, 9, 10, 11, 12])
        let c = Tensor.matmul(a, b)
        #expect(c == Tensor(shape: [2, 2], values: [58, 64, 139, 154]))
        let ct = Tensor.matmul(a, a, transposeA: true)   // 3x3 = A^T A
        #expect(ct.shape == [3, 3])
        #expect(ct[0, 0] == 17 && ct[2, 2] == 45 && ct[0, 2] == 27)
    }

    @Test func backendReportsAKernelAndThreads() throws {
        let backend = try BLAS.backend()
        #expect(!backend.library.isEmpty)
        // OpenBLAS names its kernel; any other library names none, and says so.
        if backend.config?.hasPrefix("OpenBLAS") == true {
            #expect(backend.kernel?.isEmpty == false)
        } else {
            #expect(backend.kernel == nil && backend.kernelChosenBy == "library", "\(backend)")
        }
        #expect(backend.threads != 0)
    }
}
