import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Parzen-window log-likelihood")
struct ParzenTests {
    /// log p(x) = log(1/N sum_i N(x; s_i, sigma^2 I)) summed term by term in Double.
    func direct(_ x: [Float], _ samples: [[Float]], sigma: Double) -> Double {
        let d = Double(x.count)
        let terms = samples.map { s -> Double in
            let squared = zip(x, s).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            return exp(-squared / (2 * sigma * sigma)) / pow(2 * Double.pi * sigma * sigma, d / 2)
        }
        return log(terms.reduce(0, +) / Double(samples.count))
    }

    @Test func oneSampleInOneDimensionGivesTheGaussianLogDensity() {
        let window = ParzenWindow(samples: Tensor(shape: [1, 1], values: [0]))
        let value = window.logDensities(Tensor(shape: [1, 1], values: [1]), sigmas: [1])[0][0]
        // -1/2 - log(2 pi)/2
        #expect(abs(value - (-0.5 - 0.5 * log(2 * Double.pi))) < 1e-5)
    }

    @Test func matchesTheDirectSumForEveryBandwidthAndBlockSize() {
        var random = SeededRandom(seed: 1)
        let samples = Tensor.uniform(shape: [70, 5], in: 0..<1, using: &random)
        let points = Tensor.uniform(shape: [23, 5], in: 0..<1, using: &random)
        let window = ParzenWindow(samples: samples)
        let sigmas = [0.08, 0.2, 0.7]
        let rows = (0..<70).map { samples.row($0) }
        for blockRows in [1, 7, 256] {
            let logs = window.logDensities(points, sigmas: sigmas, blockRows: blockRows, threads: 2)
            for (j, sigma) in sigmas.enumerated() {
                for r in 0..<23 {
                    let expected = direct(points.row(r), rows, sigma: sigma)
                    // Float distances: |error| ~ 1e-6 |x|^2 / sigma^2, well under 1e-3 here.
                    #expect(abs(logs[j][r] - expected) < 1e-3, "sigma \(sigma) row \(r) block \(blockRows): \(logs[j][r]) vs \(expected)")
                }
            }
        }
    }

    /// With samples from N(mu, s^2 I), the Parzen density is the sample mean of Gaussian
    /// kernels, whose expectation is N(mu, (s^2 + sigma^2) I): the estimate converges to
    /// that closed form as the sample count grows.
    @Test func convergesToTheSmoothedGaussianForGaussianSamples() {
        let d = 2, s: Float = 0.5, sigma = 0.3
        var random = SeededRandom(seed: 2)
        let mu: [Float] = [1, -2]
        var points = [Float]()
        for _ in 0..<40 { for k in 0..<d { points.append(mu[k] + s * random.gaussian()) } }
        let variance = Double(s * s) + sigma * sigma
        let truth = (0..<40).map { r -> Double in
            let squared = (0..<d).reduce(0.0) { $0 + pow(Double(points[r * d + $1] - mu[$1]), 2) }
            return -squared / (2 * variance) - Double(d) / 2 * log(2 * Double.pi * variance)
        }
        func errors(samples n: Int) -> (mean: Double, worst: Double) {
            var values = [Float](repeating: 0, count: n * d)
            for i in 0..<n { for k in 0..<d { values[i * d + k] = mu[k] + s * random.gaussian() } }
            let logs = ParzenWindow(samples: Tensor(shape: [n, d], values: values))
                .logDensities(Tensor(shape: [40, d], values: points), sigmas: [sigma])[0]
            let differences = zip(logs, truth).map { abs($0 - $1) }
            return (differences.reduce(0, +) / 40, differences.max()!)
        }
        let few = errors(samples: 500), many = errors(samples: 50_000)
        // The kernel mean's relative sampling error falls as 1/sqrt(n): ~1% at 50,000
        // samples in the bulk, a few % in the tails.
        #expect(many.mean < 0.02, "mean difference from the closed form: \(many.mean) nats")
        #expect(many.worst < 0.08, "largest difference from the closed form: \(many.worst) nats")
        #expect(many.mean < few.mean / 3, "converges: \(few.mean) at 500 samples, \(many.mean) at 50,000")
    }

    @Test func bandwidthSearchFindsTheBestValueOnItsGrid() {
        var random = SeededRandom(seed: 3)
        let samples = Tensor.gaussian(shape: [400, 3], deviation: 0.3, using: &random)
        let validation = Tensor.gaussian(shape: [100, 3], deviation: 0.3, using: &random)
        let window = ParzenWindow(samples: samples)
        let search = window.chooseBandwidth(validation: validation, low: 0.01, high: 2, count: 12)
        #expect(search.sigmas == search.sigmas.sorted())
        #expect(search.sigmas.count > 12, "the finer grid adds values")
        let bestIndex = search.validationMeans.indices.max { search.validationMeans[$0] < search.validationMeans[$1] }!
        #expect(search.best == search.sigmas[bestIndex])
        #expect(search.best > 0.01 && search.best < 2, "an interior optimum: too small overfits, too large blurs")
        let direct = window.logDensities(validation, sigmas: [search.best])[0]
        #expect(abs(ParzenWindow.meanAndStandardError(direct).mean - search.bestValidationMean) < 1e-9)
    }

    @Test func meanAndStandardErrorUseTheSampleDeviation() {
        let (mean, error) = ParzenWindow.meanAndStandardError([1, 2, 3, 4])
        #expect(mean == 2.5)
        // sd = sqrt(5/3) = 1.29099, se = sd / 2
        #expect(abs(error - 0.645497) < 1e-6)
        #expect(ParzenWindow.meanAndStandardError([7]).standardError == 0)
    }
}
