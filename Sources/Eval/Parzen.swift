import Foundation
import TagganCore

/// The Gaussian Parzen-window density estimate that Goodfellow et al. (2014, section 5)
/// fit to a generator's samples, and that Mirza & Osindero (2014, Table 1) report for
/// the CGAN: with samples s_1..s_N in R^d and bandwidth sigma,
///
///     p(x) = 1/N sum_i N(x; s_i, sigma^2 I)
///     log p(x) = logsumexp_i( -|x - s_i|^2 / (2 sigma^2) ) - log N - (d/2) log(2 pi sigma^2)
///
/// in nats. sigma is chosen on a validation set (the value with the highest mean log
/// p), and the test set's mean log p is reported with its standard error
/// (standard deviation / sqrt(n)).
///
/// Distances come from one BLAS product per block of rows: |x - s|^2 = |x|^2 + |s|^2 -
/// 2 x.s, clamped at 0; the block's distances serve every candidate sigma, so choosing
/// sigma costs one pass. Worked example: one sample s = 0 in d = 1, sigma = 1, x = 1:
/// log p = -1/2 - 0 - (1/2) log(2 pi) = -1.4189.
public struct ParzenWindow: Sendable {
    /// N x d.
    public let samples: Tensor
    let squaredNorms: [Float]

    public init(samples: Tensor) {
        precondition(samples.rank == 2 && samples.rows > 0, "a Parzen window needs at least one sample")
        self.samples = samples
        let d = samples.columns
        squaredNorms = samples.withUnsafeBufferPointer { p in
            (0 ..< samples.rows).map { VectorKernels.dot(p.baseAddress! + $0 * d, p.baseAddress! + $0 * d, count: d) }
        }
    }

    /// log p(x_r) for every row r of `points` (n x d) and every bandwidth: result[j][r]
    /// for sigmas[j]. Rows are processed in blocks of `blockRows`.
    public func logDensities(_ points: Tensor, sigmas: [Double], blockRows: Int = 256,
                             threads: Int = Parallel.defaultThreads) -> [[Double]] {
        precondition(points.columns == samples.columns, "points have \(points.columns) columns, samples \(samples.columns)")
        precondition(sigmas.allSatisfy { $0 > 0 }, "bandwidths must be positive")
        let n = points.rows, m = samples.rows, d = samples.columns
        var result = [[Double]](repeating: [Double](repeating: 0, count: n), count: sigmas.count)
        let constants = sigmas.map { -Foundation.log(Double(m)) - Double(d) / 2 * Foundation.log(2 * Double.pi * $0 * $0) }
        var block = [Float](repeating: 0, count: min(blockRows, n) * m)
        var start = 0
        while start < n {
            let rows = min(blockRows, n - start)
            // block = X S^T (rows x m), then the squared distances in place.
            points.withUnsafeBufferPointer { x in
                samples.withUnsafeBufferPointer { s in
                    block.withUnsafeMutableBufferPointer { g in
                        BLAS.sgemm(.none, .transposed, m: rows, n: m, k: d, alpha: 1, a: x.baseAddress! + start * d, lda: d,
                                   b: s.baseAddress!, ldb: d, beta: 0, c: g.baseAddress!, ldc: m)
                    }
                }
            }
            let results = ParallelSlots<[Double]>(count: rows)
            points.withUnsafeBufferPointer { x in
                block.withUnsafeMutableBufferPointer { g in
                    squaredNorms.withUnsafeBufferPointer { norms in
                        nonisolated(unsafe) let gp = g.baseAddress!, xp = x.baseAddress!, np = norms.baseAddress!
                        Parallel.forEach(rows, threads: threads, grain: 8) { r in
                            let row = gp + r * m
                            let xx = VectorKernels.dot(xp + (start + r) * d, xp + (start + r) * d, count: d)
                            var nearest = Float.infinity
                            for i in 0 ..< m {
                                let distance = max(xx + np[i] - 2 * row[i], 0)
                                row[i] = distance
                                nearest = min(nearest, distance)
                            }
                            // logsumexp_i(-D_i / 2s^2) = -D_min / 2s^2 + log sum_i exp(-(D_i - D_min) / 2s^2)
                            var values = [Double](repeating: 0, count: sigmas.count)
                            for (j, sigma) in sigmas.enumerated() {
                                let scale = Float(-1 / (2 * sigma * sigma))
                                var sum: Float = 0
                                for i in 0 ..< m { sum += Foundation.exp((row[i] - nearest) * scale) }
                                values[j] = Double(nearest * scale) + Foundation.log(Double(sum)) + constants[j]
                            }
                            results[r] = values
                        }
                    }
                }
            }
            for r in 0 ..< rows {
                let values = results[r]!
                for j in sigmas.indices { result[j][start + r] = values[j] }
            }
            start += rows
        }
        return result
    }

    /// Mean and standard error (sample standard deviation / sqrt(n)) of `values`.
    public static func meanAndStandardError(_ values: [Double]) -> (mean: Double, standardError: Double) {
        let n = Double(values.count)
        guard n > 0 else { return (.nan, .nan) }
        let mean = values.reduce(0, +) / n
        guard n > 1 else { return (mean, 0) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return (mean, (variance / n).squareRoot())
    }

    /// The bandwidth grid: `count` values spaced evenly in log between `low` and `high`.
    public static func logGrid(_ low: Double, _ high: Double, count: Int) -> [Double] {
        guard count > 1 else { return [low] }
        return (0 ..< count).map { low * Foundation.pow(high / low, Double($0) / Double(count - 1)) }
    }

    /// What choosing sigma found: every candidate's mean validation log p, and the best.
    public struct BandwidthSearch: Sendable, Codable {
        public var sigmas: [Double]
        public var validationMeans: [Double]
        public var best: Double
        public var bestValidationMean: Double
    }

    /// Chooses sigma by mean log p of `validation`: a log grid of `count` values over
    /// [low, high], then a second, finer grid between the best value's neighbours.
    public func chooseBandwidth(validation: Tensor, low: Double = 0.02, high: Double = 1.5,
                                count: Int = 16) -> BandwidthSearch {
        var tried: [(Double, Double)] = []
        func evaluate(_ grid: [Double]) {
            let logs = logDensities(validation, sigmas: grid)
            for (sigma, values) in zip(grid, logs) { tried.append((sigma, Self.meanAndStandardError(values).mean)) }
        }
        let coarse = Self.logGrid(low, high, count: count)
        evaluate(coarse)
        let bestIndex = tried.indices.max { tried[$0].1 < tried[$1].1 }!
        let lower = coarse[max(bestIndex - 1, 0)], upper = coarse[min(bestIndex + 1, coarse.count - 1)]
        evaluate(Self.logGrid(lower, upper, count: 9).filter { !coarse.contains($0) })
        tried.sort { $0.0 < $1.0 }
        let best = tried.max { $0.1 < $1.1 }!
        return BandwidthSearch(sigmas: tried.map(\.0), validationMeans: tried.map(\.1), best: best.0,
                               bestValidationMean: best.1)
    }
}
