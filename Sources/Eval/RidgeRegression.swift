import Foundation
import TagganCore

/// Ridge regression with an unpenalised bias, solved through the F x F normal equations
/// (Hoerl & Kennard, Technometrics 1970; Hastie, Tibshirani & Friedman, "The Elements of
/// Statistical Learning", 2nd ed., section 3.4.1):
///
///     (W, b) = argmin  sum_i |y_i - W^T x_i - b|^2 + lambda |W|_F^2
///     W = (Xc^T Xc + lambda I)^-1 Xc^T Yc,    b = ybar - W^T xbar,
///
/// with Xc, Yc the rows minus their means xbar, ybar. The system keeps only the
/// sufficient statistics Xc^T Xc (F x F) and Xc^T Yc (F x T), in Double, so one pass over
/// the training rows serves every lambda of a validation grid; each `solve` is a Cholesky
/// factorisation plus two triangular solves over all target columns at once.
///
/// Cost: building, N F^2 multiply-adds (taggan's own products over blocks of `blockRows`
/// rows, so the fit is the same bits on every machine and thread count; the F x F
/// Gram in Double, 13 MB for F = 1280) plus N F per target entry (dense targets: N F T
/// through the same products; multi-hot targets: one row addition per (image, tag) pair, so no N x T
/// matrix exists). Each solve: F^3 / 6 multiply-adds for Cholesky and F^2 T for the
/// solves, in Double, parallel over targets; memory F^2 + F T Doubles.
///
/// Worked example: x = [1, 2, 3], y = [2, 4, 6] (one feature, one target), lambda = 0:
/// xbar 2, ybar 4, Xc^T Xc = 2, Xc^T Yc = 4, so w = 2 and b = 4 - 2 * 2 = 0.
public struct RidgeRegression: Sendable {
    public let featureCount: Int
    public let targetCount: Int
    /// Rows the statistics were built from.
    public let examples: Int
    /// Xc^T Xc, row-major F x F.
    let gram: [Double]
    /// (Xc^T Yc)^T, row-major T x F: one row per target, the layout the solves read.
    let cross: [Double]
    let featureMean: [Double]
    let targetMean: [Double]

    /// Targets are multi-hot: row i's target is 1 at each tag of `tagSets[i]`, 0 elsewhere.
    /// Only the rows in `rows` (all when nil) are used.
    @_optimize(speed)
    public init(features: Tensor, tagSets: [Set<Int>], tagCount: Int, rows: [Int]? = nil, blockRows: Int = 2048) {
        precondition(features.rows == tagSets.count, "\(features.rows) feature rows, \(tagSets.count) tag sets")
        let used = rows ?? Array(0..<features.rows)
        let f = features.columns
        var crossSum = [Double](repeating: 0, count: tagCount * f)
        var targetSum = [Double](repeating: 0, count: tagCount)
        features.withUnsafeBufferPointer { x in
            for row in used {
                for tag in tagSets[row] {
                    precondition(tag >= 0 && tag < tagCount, "tag \(tag) is outside 0..<\(tagCount)")
                    targetSum[tag] += 1
                    for c in 0..<f { crossSum[tag * f + c] += Double(x[row * f + c]) }
                }
            }
        }
        self.init(features: features, rows: used, targetCount: tagCount, crossSum: crossSum, targetSum: targetSum,
                  blockRows: blockRows)
    }

    /// Dense targets: row i of `targets` is row i's target vector ([N, T]).
    /// `intercept` false fits W alone through the origin (b = 0, no centring of X or Y).
    public init(features: Tensor, targets: Tensor, rows: [Int]? = nil, blockRows: Int = 2048, intercept: Bool = true) {
        precondition(features.rows == targets.rows, "\(features.rows) feature rows, \(targets.rows) target rows")
        let used = rows ?? Array(0..<features.rows)
        let f = features.columns, t = targets.columns
        var crossSum = [Double](repeating: 0, count: t * f)
        var targetSum = [Double](repeating: 0, count: t)
        var product = Tensor(zeros: [0])
        var start = 0
        while start < used.count {
            let block = Array(used[start ..< min(start + blockRows, used.count)])
            let xBlock = Self.gather(features, block), yBlock = Self.gather(targets, block)
            product.assignRowStableProduct(yBlock, xBlock, transposeA: true)   // T x F, alike on every machine
            Self.accumulate(product, into: &crossSum)
            yBlock.withUnsafeBufferPointer { y in
                for r in 0..<block.count { for c in 0..<t { targetSum[c] += Double(y[r * t + c]) } }
            }
            start += block.count
        }
        self.init(features: features, rows: used, targetCount: t, crossSum: crossSum, targetSum: targetSum,
                  blockRows: blockRows, intercept: intercept)
    }

    /// Centres the raw sums: Xc^T Xc = X^T X - N xbar xbar^T, Xc^T Yc = X^T Y - N xbar ybar^T.
    @_optimize(speed)
    private init(features: Tensor, rows: [Int], targetCount: Int, crossSum: [Double], targetSum: [Double],
                 blockRows: Int, intercept: Bool = true) {
        let f = features.columns, n = rows.count
        var gram = [Double](repeating: 0, count: f * f)
        var featureSum = [Double](repeating: 0, count: f)
        var product = Tensor(zeros: [0])
        var start = 0
        while start < n {
            let block = Array(rows[start ..< min(start + blockRows, n)])
            let xBlock = Self.gather(features, block)
            product.assignRowStableProduct(xBlock, xBlock, transposeA: true)   // F x F in Float, added up in Double
            Self.accumulate(product, into: &gram)
            xBlock.withUnsafeBufferPointer { x in
                for r in 0..<block.count { for c in 0..<f { featureSum[c] += Double(x[r * f + c]) } }
            }
            start += block.count
        }
        let count = Double(max(n, 1))
        let xbar = featureSum.map { intercept ? $0 / count : 0 }, ybar = targetSum.map { intercept ? $0 / count : 0 }
        for i in 0..<f { for j in 0..<f { gram[i * f + j] -= count * xbar[i] * xbar[j] } }
        var cross = crossSum
        for t in 0..<targetCount { for c in 0..<f { cross[t * f + c] -= count * ybar[t] * xbar[c] } }
        featureCount = f
        self.targetCount = targetCount
        examples = n
        self.gram = gram
        self.cross = cross
        featureMean = xbar
        targetMean = ybar
    }

    /// sum += block, element by element, in Double. `@_optimize(speed)` on this and the
    /// solver's loops: debug builds compile Eval unoptimised, and F = 1280 makes these
    /// loops billions of steps.
    @_optimize(speed)
    static func accumulate(_ block: Tensor, into sum: inout [Double]) {
        block.withUnsafeBufferPointer { b in
            sum.withUnsafeMutableBufferPointer { s in for i in 0..<s.count { s[i] += Double(b[i]) } }
        }
    }

    static func gather(_ matrix: Tensor, _ rows: [Int]) -> Tensor {
        let c = matrix.columns
        var values = [Float](repeating: 0, count: rows.count * c)
        matrix.withUnsafeBufferPointer { source in
            for (r, row) in rows.enumerated() {
                for j in 0..<c { values[r * c + j] = source[row * c + j] }
            }
        }
        return Tensor(shape: [rows.count, c], values: values)
    }

    /// W and b for one lambda (> 0, or 0 when Xc^T Xc is positive definite).
    /// Throws when the regularised Gram matrix is not positive definite.
    public func solve(lambda: Double) throws -> RidgeMap {
        let f = featureCount
        var a = gram
        for i in 0..<f { a[i * f + i] += lambda }
        let lower = try Cholesky.factor(a, size: f)
        var upper = [Double](repeating: 0, count: f * f)   // L^T, so the back solve reads rows
        for i in 0..<f { for j in 0...i { upper[j * f + i] = lower[i * f + j] } }
        // B = Xc^T Yc, F x T: row i holds feature i's entry of every right-hand side.
        var solution = [Double](repeating: 0, count: f * targetCount)
        for t in 0..<targetCount { for c in 0..<f { solution[c * targetCount + t] = cross[t * f + c] } }
        Cholesky.solve(lower: lower, upper: upper, size: f, &solution, columns: targetCount)
        var weights = [Float](repeating: 0, count: targetCount * f)
        var bias = [Float](repeating: 0, count: targetCount)
        for t in 0..<targetCount {
            var dot = 0.0
            for c in 0..<f {
                let w = solution[c * targetCount + t]
                weights[t * f + c] = Float(w)
                dot += w * featureMean[c]
            }
            bias[t] = Float(targetMean[t] - dot)
        }
        return RidgeMap(weightsTransposed: Tensor(shape: [targetCount, f], values: weights), bias: bias)
    }
}

/// A fitted linear map y = W^T x + b.
public struct RidgeMap: Sendable, Equatable {
    /// W^T, [T, F]: one row per target.
    public let weightsTransposed: Tensor
    public let bias: [Float]

    public init(weightsTransposed: Tensor, bias: [Float]) {
        precondition(weightsTransposed.rows == bias.count, "\(weightsTransposed.rows) weight rows, \(bias.count) biases")
        self.weightsTransposed = weightsTransposed
        self.bias = bias
    }

    /// X W + b for every row of `features` ([Q, F] -> [Q, T]): a row-stable product, so a
    /// row's scores do not depend on the other rows.
    public func apply(_ features: Tensor) -> Tensor {
        var out = Tensor(zeros: [0])
        out.assignRowStableProduct(features, weightsTransposed, transposeB: true)
        let t = bias.count
        out.withUnsafeMutableBufferPointer { values in
            for row in 0..<features.rows { for c in 0..<t { values[row * t + c] += bias[c] } }
        }
        return out
    }
}

/// Cholesky factorisation A = L L^T of a symmetric positive definite matrix, in Double
/// (Golub & Van Loan, "Matrix Computations", 4th ed., algorithm 4.2.1, row-oriented):
///
///     L_ij = (A_ij - sum_{k<j} L_ik L_jk) / L_jj   (j < i),
///     L_ii = sqrt(A_ii - sum_{k<i} L_ik^2).
///
/// Each entry is a dot product of two contiguous row prefixes: n^3 / 6 multiply-adds.
/// Throws when a pivot is not above 1e-12 of its diagonal entry (numerically singular).
enum Cholesky {
    struct NotPositiveDefinite: Error, CustomStringConvertible {
        let pivot: Int
        var description: String { "matrix is not positive definite (pivot \(pivot)); raise lambda" }
    }

    @_optimize(speed)
    static func factor(_ a: [Double], size n: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: n * n)
        try l.withUnsafeMutableBufferPointer { l in
            let base = l.baseAddress!
            for i in 0..<n {
                for j in 0...i {
                    let s = a[i * n + j] - dot(base + i * n, base + j * n, j)
                    if i == j {
                        // A pivot below 1e-12 of its diagonal entry is rounding, not rank.
                        guard s > 1e-12 * abs(a[i * n + i]), s.isFinite else { throw TagganError.failure(NotPositiveDefinite(pivot: i).description) }
                        l[i * n + i] = s.squareRoot()
                    } else {
                        l[i * n + j] = s / l[j * n + j]
                    }
                }
            }
        }
        return l
    }

    /// X with L L^T X = B for the n x m right-hand sides B (row-major, overwritten by X):
    /// forward solve L Y = B, Y_i = (B_i - sum_{k<i} L_ik Y_k) / L_ii, then back solve
    /// L^T X = Y, X_i = (Y_i - sum_{k>i} L_ki X_k) / L_ii (`upper` = L^T), each over whole
    /// rows (contiguous multiply-adds), in parallel over blocks of columns.
    @_optimize(speed)
    static func solve(lower: [Double], upper: [Double], size n: Int, _ b: inout [Double], columns m: Int) {
        precondition(b.count == n * m, "\(b.count) values are not \(n) x \(m)")
        let blocks = (m + 63) / 64
        lower.withUnsafeBufferPointer { l in
            upper.withUnsafeBufferPointer { u in
                b.withUnsafeMutableBufferPointer { b in
                    nonisolated(unsafe) let l = l.baseAddress!, u = u.baseAddress!, x = b.baseAddress!
                    Parallel.forEach(blocks) { block in
                        let c0 = block * 64, width = min(64, m - c0)
                        for i in 0..<n {
                            let row = x + i * m + c0
                            for k in 0..<i { subtract(l[i * n + k], x + k * m + c0, from: row, width) }
                            let inverse = 1 / l[i * n + i]
                            for c in 0..<width { row[c] *= inverse }
                        }
                        for i in stride(from: n - 1, through: 0, by: -1) {
                            let row = x + i * m + c0
                            for k in (i + 1) ..< max(i + 1, n) { subtract(u[i * n + k], x + k * m + c0, from: row, width) }
                            let inverse = 1 / u[i * n + i]
                            for c in 0..<width { row[c] *= inverse }
                        }
                    }
                }
            }
        }
    }

    /// y -= a x over `count` values.
    @inline(__always) @_optimize(speed)
    static func subtract(_ a: Double, _ x: UnsafePointer<Double>, from y: UnsafeMutablePointer<Double>, _ count: Int) {
        if a == 0 { return }
        for c in 0..<count { y[c] -= a * x[c] }
    }

    /// sum_k x_k y_k over `count` values, four lanes at a time.
    @inline(__always) @_optimize(speed)
    static func dot(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ count: Int) -> Double {
        var acc = SIMD4<Double>(repeating: 0)
        var k = 0
        while k + 4 <= count {
            let a = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD4<Double>.self)
            let b = UnsafeRawPointer(y + k).loadUnaligned(as: SIMD4<Double>.self)
            acc += a * b
            k += 4
        }
        var s = acc.sum()
        while k < count { s += x[k] * y[k]; k += 1 }
        return s
    }
}
