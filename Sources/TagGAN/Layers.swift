import Foundation
import TagganCore

// The layers of the paper's networks, each with an explicit forward and backward pass
// on TagganCore tensors. Matrices are row-major with one example per row. Every layer
// writes into output tensors the caller keeps between steps, so a training step
// allocates no large buffers once the first step has sized them.

/// A fully connected layer: y = x W + b.
///
/// `weight` has shape [inputs, outputs] (x W, the layout that needs no transpose in the
/// forward product; PyTorch stores the transpose), `bias` [1, outputs].
///
/// Initialisation: W ~ U(-scale/sqrt(inputs), scale/sqrt(inputs)), b = 0. With the
/// default scale 1 this is PyTorch's `nn.Linear` weight default (variance 1/(3 inputs)),
/// so the PyTorch peer of bench/taggan.sh starts from the same distribution; scale
/// sqrt(6) is He et al.'s (2015) uniform initialisation for ReLU layers. Measured on
/// the synthetic tasks (BENCHMARKS.md, TagGAN): scale 1 learned the small task on every
/// seed and He's scale on none (D overpowered G); on the OpenClipart-sized synthetic
/// workspace He's scale learned faster at first. `NetworkSizes.initialScale` chooses.
///
/// Gradients (for dy = dL/dy): dW = x^T dy, db = sum over rows of dy, dx = dy W^T, each
/// one matrix product: BLAS sgemm, or taggan's own kernel for some shapes (`Products`)
/// when `ownProducts` (the tagging GAN's layers) and `TAGGAN_GAN_PRODUCTS=own`. At
/// inference over a batch of images, `forward(rowStable: true)` always takes the own
/// kernel, so each row's output depends on its input row alone.
public struct Linear: Sendable {
    public var weight: Tensor
    public var bias: Tensor
    public var weightGradient: Tensor
    public var biasGradient: Tensor
    /// Products through `KernelProducts.multiply` rather than sgemm (when `Products.enabled`).
    public var ownProducts = false
    /// The weight-gradient product writes weightGradient = weightGradientScale x^T dy,
    /// or adds that to what weightGradient holds when `weightGradientAccumulates` (or
    /// `backwardParameters(accumulate:)`). (1, false), the default, is the plain gradient;
    /// the GAN trainer's SGD lends the velocity to `weightGradient` and sets
    /// (-rate / momentum, true), so that the product is the velocity's update
    /// (`OptimizerState.lendVelocity`). The bias gradient is always the plain one.
    public var weightGradientScale: Float = 1
    public var weightGradientAccumulates = false

    public var inputs: Int { weight.rows }
    public var outputs: Int { weight.columns }

    public init(inputs: Int, outputs: Int, scale: Float = 1, random: inout SeededRandom) {
        let bound = scale / Float(inputs).squareRoot()
        weight = Tensor.uniform(shape: [inputs, outputs], in: -bound..<bound, using: &random)
        bias = Tensor(zeros: [1, outputs])
        weightGradient = Tensor(zeros: [inputs, outputs])
        biasGradient = Tensor(zeros: [1, outputs])
    }

    /// y = x W + b, x is rows x inputs; with `rectified`, y = max(x W + b, 0) (the ReLU
    /// that follows the layer, applied in the bias's pass: the same values as `ReLU.forward`).
    /// `rowStable` (inference on a batch of images): x W as `Tensor.assignRowStableProduct`,
    /// so each row of y depends on its row of x alone.
    public func forward(_ x: Tensor, into y: inout Tensor, rectified: Bool = false, rowStable: Bool = false) {
        precondition(x.columns == inputs, "linear layer takes \(inputs) inputs, got \(x.columns)")
        if rowStable {
            y.assignRowStableProduct(x, weight)
        } else {
            Products.assign(&y, x, weight, own: ownProducts)
        }
        let rows = y.rows, n = outputs
        bias.withUnsafeBufferPointer { b in
            y.withUnsafeMutableBufferPointer { out in
                if rectified {
                    LayerKernels.addRowVectorReLU(b.baseAddress!, to: out.baseAddress!, rows: rows, columns: n)
                } else {
                    LayerKernels.addRowVector(b.baseAddress!, to: out.baseAddress!, rows: rows, columns: n)
                }
            }
        }
    }

    /// dW = x^T dy and db = column sums of dy; added to the gradients already held when
    /// `accumulate` is true (dW as `weightGradientScale` and `weightGradientAccumulates` say).
    public mutating func backwardParameters(input x: Tensor, outputGradient dy: Tensor, accumulate: Bool = false) {
        Products.assign(&weightGradient, x, dy, transposeA: true, alpha: weightGradientScale,
                        beta: accumulate || weightGradientAccumulates ? 1 : 0, own: ownProducts)
        let rows = dy.rows, n = outputs
        dy.withUnsafeBufferPointer { g in
            biasGradient.withUnsafeMutableBufferPointer { db in
                LayerKernels.columnSums(g.baseAddress!, rows: rows, columns: n, into: db.baseAddress!, accumulate: accumulate)
            }
        }
    }

    /// dx = dy W^T.
    public func backwardInput(outputGradient dy: Tensor, into dx: inout Tensor) {
        Products.assign(&dx, dy, weight, transposeB: true, own: ownProducts)
    }

    /// Calls `body` with each parameter and its gradient, named `prefix.weight` and
    /// `prefix.bias`.
    public mutating func visitParameters(_ prefix: String, _ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try body(prefix + ".weight", &weight, &weightGradient)
        try body(prefix + ".bias", &bias, &biasGradient)
    }
}

/// The rectifier y = max(x, 0), applied in place. Its backward pass reads the output:
/// dx = dy where y > 0, else 0 (the subgradient 0 is taken at x = 0).
public enum ReLU {
    public static func forward(_ x: inout Tensor) {
        x.withUnsafeMutableBufferPointer { VectorKernels.relu($0) }
    }

    public static func backward(output y: Tensor, gradient dy: inout Tensor) {
        precondition(y.count == dy.count, "ReLU gradient of \(dy.count) values for \(y.count) outputs")
        let n = y.count
        y.withUnsafeBufferPointer { out in
            dy.withUnsafeMutableBufferPointer { g in
                LayerKernels.reluBackward(output: out.baseAddress!, gradient: g.baseAddress!, count: n)
            }
        }
    }
}

/// Inverted dropout (Srivastava et al. 2014): in training each value is zeroed with
/// probability `rate` and the survivors are scaled by 1 / (1 - rate), so the expected
/// activation is unchanged and inference needs no rescaling. The mask is kept for the
/// backward pass, dx = dy * mask. Masks are drawn from the caller's generator, so a step
/// is reproducible from its random stream.
public struct Dropout: Sendable {
    public let rate: Float
    /// 0 or 1 / (1 - rate) per value, from the last training forward pass.
    public private(set) var mask = Tensor(zeros: [0])
    private var active = false

    public init(rate: Float) {
        precondition(rate >= 0 && rate < 1, "dropout rate \(rate) must be in [0, 1)")
        self.rate = rate
    }

    public mutating func forward(_ x: inout Tensor, training: Bool, random: inout SeededRandom) {
        active = training && rate > 0
        guard active else { return }
        mask.resize(to: x.shape)
        let n = x.count, rate = rate
        mask.withUnsafeMutableBufferPointer { m in
            x.withUnsafeMutableBufferPointer { v in
                LayerKernels.applyDropout(m.baseAddress!, to: v.baseAddress!, count: n, rate: rate, random: &random)
            }
        }
    }

    public func backward(_ dy: inout Tensor) {
        guard active else { return }
        mask.withUnsafeBufferPointer { m in
            dy.withUnsafeMutableBufferPointer { VectorKernels.multiply($0, by: m) }
        }
    }
}

/// Maxout (Goodfellow et al. 2013): the input's columns form `units` groups of `pieces`
/// consecutive values, y[r, u] = max_p z[r, u * pieces + p]. The winning piece is kept
/// for the backward pass, which routes dy[r, u] to it and gives the others 0 (ties go to
/// the first piece). A maxout layer is a Linear layer of units * pieces outputs followed
/// by this.
public struct Maxout: Sendable {
    public let units: Int
    public let pieces: Int
    private var winners: [Int32] = []

    public init(units: Int, pieces: Int) {
        precondition(units > 0 && pieces > 0, "maxout needs units and pieces")
        self.units = units
        self.pieces = pieces
    }

    public mutating func forward(_ z: Tensor, into y: inout Tensor) {
        precondition(z.columns == units * pieces, "maxout of \(units)x\(pieces) got \(z.columns) columns")
        let rows = z.rows, units = units, pieces = pieces
        y.resize(to: [rows, units])
        if winners.count != rows * units {
            winners.removeAll(keepingCapacity: true)
            winners.append(contentsOf: repeatElement(0, count: rows * units))
        }
        z.withUnsafeBufferPointer { zp in
            y.withUnsafeMutableBufferPointer { yp in
                winners.withUnsafeMutableBufferPointer { wp in
                    for i in 0 ..< rows * units {
                        let base = i * pieces
                        var best = zp[base], winner: Int32 = 0
                        for p in 1..<pieces where zp[base + p] > best {
                            best = zp[base + p]
                            winner = Int32(p)
                        }
                        yp[i] = best
                        wp[i] = winner
                    }
                }
            }
        }
    }

    public func backward(_ dy: Tensor, into dz: inout Tensor) {
        let rows = dy.rows, pieces = pieces
        dz.resize(to: [rows, units * pieces])
        dz.withUnsafeMutableBufferPointer { dzp in
            dzp.update(repeating: 0)
            dy.withUnsafeBufferPointer { g in
                winners.withUnsafeBufferPointer { wp in
                    for i in 0..<g.count { dzp[i * pieces + Int(wp[i])] = g[i] }
                }
            }
        }
    }
}

/// Concatenation of two matrices with the same rows, side by side: y = [a | b]. The
/// backward pass splits dy into the two column blocks.
public enum Concatenation {
    public static func forward(_ a: Tensor, _ b: Tensor, into y: inout Tensor) {
        precondition(a.rows == b.rows, "concatenating \(a.rows) rows with \(b.rows)")
        let rows = a.rows, na = a.columns, nb = b.columns, n = na + nb
        y.resize(to: [rows, n])
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    let out = yp.baseAddress!
                    for r in 0..<rows {
                        (out + r * n).update(from: ap.baseAddress! + r * na, count: na)
                        (out + r * n + na).update(from: bp.baseAddress! + r * nb, count: nb)
                    }
                }
            }
        }
    }

    /// Splits dy into its first `firstColumns` columns and the rest.
    public static func backward(_ dy: Tensor, firstColumns na: Int, into da: inout Tensor, _ db: inout Tensor) {
        let rows = dy.rows, n = dy.columns, nb = n - na
        da.resize(to: [rows, na])
        db.resize(to: [rows, nb])
        dy.withUnsafeBufferPointer { g in
            da.withUnsafeMutableBufferPointer { ap in
                db.withUnsafeMutableBufferPointer { bp in
                    for r in 0..<rows {
                        (ap.baseAddress! + r * na).update(from: g.baseAddress! + r * n, count: na)
                        (bp.baseAddress! + r * nb).update(from: g.baseAddress! + r * n + na, count: nb)
                    }
                }
            }
        }
    }
}

/// The sigmoid unit with binary cross-entropy, computed from the logit l so that it
/// never overflows or takes log(0):
///
///     loss(l, y) = max(l, 0) - l y + log(1 + exp(-|l|))     (= -y log s - (1-y) log(1-s), s = sigmoid(l))
///     dloss/dl   = sigmoid(l) - y
///
/// e.g. l = 100, y = 0 gives loss 100 (the naive formula gives log(0) = -inf).
public enum SigmoidCrossEntropy {
    /// sigmoid(l) = 1 / (1 + exp(-l)), written to avoid exp overflow for l << 0.
    @inline(__always)
    public static func sigmoid(_ l: Float) -> Float {
        if l >= 0 { return 1 / (1 + (-l).exp) }
        let e = l.exp
        return e / (1 + e)
    }

    @inline(__always)
    public static func loss(logit l: Float, target y: Float) -> Float {
        max(l, 0) - l * y + (1 + (-abs(l)).exp).log
    }

    /// The mean loss over `logits[range]` with one target, and gradient[i] = (sigmoid(l) -
    /// y) / scale for i in the range (scale is the batch size the mean is taken over).
    /// Returns (mean loss, mean sigmoid(l)).
    public static func meanLoss(logits: Tensor, range: Range<Int>, target: Float, gradientScale: Float,
                                gradient: inout Tensor) -> (loss: Float, meanProbability: Float) {
        var total: Double = 0, probability: Double = 0
        for i in range {
            let l = logits[i]
            total += Double(loss(logit: l, target: target))
            let s = sigmoid(l)
            probability += Double(s)
            gradient[i] = (s - target) * gradientScale
        }
        let n = Double(max(range.count, 1))
        return (Float(total / n), Float(probability / n))
    }
}

extension Float {
    @inline(__always) var exp: Float { Foundation.exp(self) }
    @inline(__always) var log: Float { Foundation.log(self) }
}
