import Foundation
import Testing
@testable import SkipGram
import TagganCore

/// The negative-sampling update against finite differences of its loss
///
///     L = - sum_c sum_t [ y_t log sigma(a_c . b_t) + (1 - y_t) log sigma(-a_c . b_t) ]
///
/// (a_c the context rows, b_t the centre word's and noise words' output rows): one step
/// must move every parameter by exactly -alpha * dL/dparameter, computed from the old
/// values. Central differences in Double with h = 1e-4; tolerance 2e-4 on the gradient.
@Suite("Negative-sampling gradient")
struct GradientTests {
    static let dimension = 5

    func makeWorker(options: inout SkipGramOptions) throws -> (SkipGramModel, Worker) {
        let vocabulary = Vocabulary(counts: (0..<6).map { ("w\($0)", 10 - $0) })
        options.dimension = Self.dimension
        options.negative = 2
        options.exactSigmoid = true
        let model = try SkipGramModel(vocabulary: vocabulary, options: options)
        var random = SeededRandom(seed: 11)
        for row in 0..<vocabulary.count {
            for d in 0..<Self.dimension {
                model.input[row * model.stride + d] = random.uniform(in: -0.8 ..< 0.8)
                model.outputNegative![row * model.stride + d] = random.uniform(in: -0.8 ..< 0.8)
            }
        }
        var worker = Worker(model: model, random: SeededRandom(seed: 1),
                            shared: SharedProgress(total: 1, progress: nil, epochs: 1))
        worker.alpha = 0.05
        return (model, worker)
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// L over contexts rows `contexts` of `input` and target rows of `output`.
    static func loss(_ input: [Double], _ output: [Double], contexts: [Int], targets: [Int], labels: [Double],
                     dimension: Int) -> Double {
        var total = 0.0
        for c in contexts {
            for (t, y) in zip(targets, labels) {
                var s = 0.0
                for d in 0..<dimension { s += input[c * dimension + d] * output[t * dimension + d] }
                total -= y * log(sigmoid(s)) + (1 - y) * log(sigmoid(-s))
            }
        }
        return total
    }

    func check(batched: Bool) throws {
        var options = SkipGramOptions()
        let (model, worker) = try makeWorker(options: &options)
        defer { worker.release() }
        let contexts = batched ? [1, 2, 4] : [1]
        let targets = [0, 3, 5], labels: [Double] = [1, 0, 0]
        let d = Self.dimension, stride = model.stride, rows = model.vocabulary.count
        func snapshot(_ m: UnsafeMutablePointer<Float>) -> [Double] {
            (0..<rows).flatMap { r in (0..<d).map { Double(m[r * stride + $0]) } }
        }
        let input = snapshot(model.input), output = snapshot(model.outputNegative!)
        // Finite differences of L for every parameter.
        let h = 1e-4
        var gradientInput = [Double](repeating: 0, count: input.count)
        var gradientOutput = [Double](repeating: 0, count: output.count)
        for i in input.indices {
            var plus = input, minus = input
            plus[i] += h; minus[i] -= h
            gradientInput[i] = (Self.loss(plus, output, contexts: contexts, targets: targets, labels: labels, dimension: d)
                - Self.loss(minus, output, contexts: contexts, targets: targets, labels: labels, dimension: d)) / (2 * h)
        }
        for i in output.indices {
            var plus = output, minus = output
            plus[i] += h; minus[i] -= h
            gradientOutput[i] = (Self.loss(input, plus, contexts: contexts, targets: targets, labels: labels, dimension: d)
                - Self.loss(input, minus, contexts: contexts, targets: targets, labels: labels, dimension: d)) / (2 * h)
        }
        // One step of the trainer's own update.
        for (t, target) in targets.enumerated() {
            worker.targetRows[t] = model.outputNegative! + target * stride
            worker.labels[t] = Float(labels[t])
            worker.clipSkips[t] = false
        }
        for (c, context) in contexts.enumerated() { worker.contextRows[c] = model.input + context * stride }
        worker.updateShared(contexts: contexts.count, targets: targets.count)
        let alpha = Double(worker.alpha)
        let stepInput = zip(snapshot(model.input), input).map { ($0 - $1) / -alpha }
        let stepOutput = zip(snapshot(model.outputNegative!), output).map { ($0 - $1) / -alpha }
        var largest = 0.0
        for (a, b) in zip(stepInput + stepOutput, gradientInput + gradientOutput) { largest = max(largest, abs(a - b)) }
        #expect(largest < 2e-4, "largest difference \(largest)")
        // Rows outside the step did not move; some inside did.
        #expect(gradientInput.contains { abs($0) > 1e-3 })
        // Padding past the dimension stays zero.
        for r in 0..<rows { for p in d..<stride { #expect(model.input[r * stride + p] == 0) } }
    }

    /// The classic loop's step: one context word against its own targets.
    @Test func classicPairUpdateIsTheNegativeGradientStep() throws { try check(batched: false) }

    @Test func batchedSharedUpdateIsTheNegativeGradientStep() throws { try check(batched: true) }

    @Test func sigmoidTableIsCloseToTheLogisticFunction() {
        let table = SigmoidTable()
        var x: Float = -5.999
        while x < 6 {
            #expect(abs(Double(table(x)) - Self.sigmoid(Double(x))) < 4e-4, "x = \(x)")
            x += 0.0137
        }
    }
}
