import Foundation
import TagganCore

/// How parameters move: the paper's SGD with momentum, or Adam.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case sgd, adam
}

/// The per-parameter state of an optimiser (velocities for SGD, first and second moments
/// for Adam), keyed by `<network>.<parameter>.<slot>`. Saved with every checkpoint so a
/// resumed run continues exactly.
struct OptimizerState {
    var slots: [String: Tensor] = [:]
    /// The gradient buffers of the weights whose velocity is lent to their layer
    /// (`lendVelocity`) until `fusedSGDStep` gives it back. Not state: never saved.
    var lent: [String: Tensor] = [:]

    /// A weight matrix's column-norm constraint (`TrainingConfiguration.maxColumnNorm`),
    /// applied in the optimiser's pass over the weights
    /// (`LayerKernels.updateLimitingColumnNorms`) rather than in a pass of its own.
    struct ColumnLimit {
        var rows: Int
        var columns: Int
        var limit: Float
    }

    /// SGD with momentum, as pylearn2 (the paper's toolkit) applies it:
    /// v = momentum * v - rate * g;  w = w + v; then, with `columnLimit`, the weight's
    /// columns longer than the limit scaled back to it.
    mutating func sgdStep(_ name: String, weight: inout Tensor, gradient: Tensor, rate: Float, momentum: Float,
                          columnLimit: ColumnLimit? = nil) {
        var velocity = slots.removeValue(forKey: name + ".velocity") ?? Tensor(zeros: weight.shape)
        let n = weight.count
        weight.withUnsafeMutableBufferPointer { w in
            velocity.withUnsafeMutableBufferPointer { v in
                gradient.withUnsafeBufferPointer { g in
                    nonisolated(unsafe) let wp = w.baseAddress!, vp = v.baseAddress!, gp = g.baseAddress!
                    func update(_ o: Int, _ count: Int) {
                        LayerKernels.momentumStep(weight: wp + o, velocity: vp + o, gradient: gp + o,
                                                  count: count, rate: rate, momentum: momentum)
                    }
                    Self.apply(update, to: wp, count: n, columnLimit: columnLimit)
                }
            }
        }
        slots[name + ".velocity"] = velocity
    }

    /// SGD with the velocity as the output of the weight's gradient product (the GAN
    /// trainer's `fusesSGD`): `lendVelocity` puts the weight's velocity v where its
    /// layer writes the gradient, the layer's product adds -(rate / momentum) x^T dy to
    /// it (sgemm's alpha, beta 1), and `fusedSGDStep` makes v = momentum u and w += v.
    /// The same step as `sgdStep` (momentum v - rate g, to rounding), with no zeroing
    /// pass over the gradient before its product, no gradient array written and read
    /// back, and one pass over v and w instead of one over g, v and w.
    ///
    /// Swaps the velocity of `name` (zeros on the first step) into `gradient`, keeping the
    /// gradient's buffer until `fusedSGDStep` swaps them back.
    mutating func lendVelocity(_ name: String, to gradient: inout Tensor) {
        precondition(lent[name] == nil, "the velocity of \(name) is already lent")
        var velocity = slots.removeValue(forKey: name + ".velocity") ?? Tensor(zeros: gradient.shape)
        swap(&velocity, &gradient)
        lent[name] = velocity
    }

    /// The rest of the fused step for the weight whose velocity `lendVelocity` lent to
    /// `gradient` (which the gradient product has updated to u = v - (rate / momentum) g):
    /// v = momentum u, w += v, the column limit as in `sgdStep`; then the velocity goes
    /// back to its slot and `gradient` gets its own buffer back.
    mutating func fusedSGDStep(_ name: String, weight: inout Tensor, gradient: inout Tensor, momentum: Float,
                               columnLimit: ColumnLimit? = nil) {
        guard var own = lent.removeValue(forKey: name) else { preconditionFailure("no velocity of \(name) is lent") }
        precondition(gradient.count == weight.count, "velocity of \(gradient.count) values for \(weight.count) weights")
        let n = weight.count
        weight.withUnsafeMutableBufferPointer { w in
            gradient.withUnsafeMutableBufferPointer { v in
                nonisolated(unsafe) let wp = w.baseAddress!, vp = v.baseAddress!
                func update(_ o: Int, _ count: Int) {
                    LayerKernels.velocityStep(weight: wp + o, velocity: vp + o, count: count, momentum: momentum)
                }
                Self.apply(update, to: wp, count: n, columnLimit: columnLimit)
            }
        }
        swap(&own, &gradient)
        slots[name + ".velocity"] = own
    }

    /// Adam (Kingma & Ba 2015) at step t (1-based), the bias corrections applied to the
    /// rate: rate_t = rate * sqrt(1 - b2^t) / (1 - b1^t); `columnLimit` as for `sgdStep`.
    /// With `clearing`, the gradient is all zeros afterwards (`LayerKernels.adamStep`).
    mutating func adamStep(_ name: String, weight: inout Tensor, gradient: inout Tensor, rate: Double, t: Int,
                           beta1: Double, beta2: Double, epsilon: Double, columnLimit: ColumnLimit? = nil,
                           clearing: Bool = false) {
        var first = slots.removeValue(forKey: name + ".adam_m") ?? Tensor(zeros: weight.shape)
        var second = slots.removeValue(forKey: name + ".adam_v") ?? Tensor(zeros: weight.shape)
        let corrected = Float(rate * (1 - pow(beta2, Double(t))).squareRoot() / (1 - pow(beta1, Double(t))))
        let n = weight.count
        weight.withUnsafeMutableBufferPointer { w in
            first.withUnsafeMutableBufferPointer { m in
                second.withUnsafeMutableBufferPointer { v in
                    gradient.withUnsafeMutableBufferPointer { g in
                        nonisolated(unsafe) let wp = w.baseAddress!, mp = m.baseAddress!, vp = v.baseAddress!
                        nonisolated(unsafe) let gp = g.baseAddress!
                        func update(_ o: Int, _ count: Int) {
                            LayerKernels.adamStep(weight: wp + o, first: mp + o, second: vp + o, gradient: gp + o,
                                                  count: count, rate: corrected, beta1: Float(beta1),
                                                  beta2: Float(beta2), epsilon: Float(epsilon), clearing: clearing)
                        }
                        Self.apply(update, to: wp, count: n, columnLimit: columnLimit)
                    }
                }
            }
        }
        slots[name + ".adam_m"] = first
        slots[name + ".adam_v"] = second
    }

    /// Splits 0..<count into two halves run on two threads when the parameter is big
    /// enough for the update to be memory-bound. Each element's update is independent, so
    /// the result does not depend on the split.
    /// Runs an optimiser's element-wise `update(offset, count)` over the `count` values of
    /// the weight at `w`: in the column-norm pass when `columnLimit` is given
    /// (`LayerKernels.updateLimitingColumnNorms`), else over `parallelRanges`.
    static func apply(_ update: (_ offset: Int, _ count: Int) -> Void, to w: UnsafeMutablePointer<Float>, count n: Int,
                      columnLimit: ColumnLimit?) {
        if let c = columnLimit {
            precondition(c.rows * c.columns == n, "column limit of \(c.rows)x\(c.columns) for \(n) values")
            LayerKernels.updateLimitingColumnNorms(w, rows: c.rows, columns: c.columns, limit: c.limit,
                                                   threads: Parallel.defaultThreads, update: update)
        } else {
            parallelRanges(n) { range in update(range.lowerBound, range.count) }
        }
    }

    static func parallelRanges(_ count: Int, _ body: (Range<Int>) -> Void) {
        let threads = count >= 1 << 18 ? min(2, Parallel.defaultThreads) : 1
        Parallel.forEachChunk(count, threads: threads, grain: 1 << 17) { _, range in body(range) }
    }
}
