import Foundation
import TagganCore

// The two pieces the class-conditional image experiment (Mirza & Osindero 2014, section
// 4.1) needs beyond Layers.swift: G's sigmoid output layer and its uniform noise prior.

/// The logistic sigmoid applied in place, y = 1 / (1 + exp(-x)), G's output layer for
/// pixel intensities in (0, 1). Its backward pass reads the output:
///
///     dy/dx = y (1 - y),   so dx = dy * y * (1 - y)
///
/// e.g. x = 0 gives y = 0.5 and slope 0.25; x = 100 gives y = 1 (to Float precision) and
/// slope 0, never NaN (`SigmoidCrossEntropy.sigmoid` avoids exp overflow).
public enum Sigmoid {
    public static func forward(_ x: inout Tensor) {
        x.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = SigmoidCrossEntropy.sigmoid(p[i]) }
        }
    }

    public static func backward(output y: Tensor, gradient dy: inout Tensor) {
        precondition(y.count == dy.count, "sigmoid gradient of \(dy.count) values for \(y.count) outputs")
        y.withUnsafeBufferPointer { out in
            dy.withUnsafeMutableBufferPointer { g in
                for i in g.indices { g[i] *= out[i] * (1 - out[i]) }
            }
        }
    }
}

/// The generator's noise prior in the paper's MNIST experiment: "z with dimensionality
/// 100 was drawn from a uniform distribution within the unit hypercube", z ~ U[0, 1)^d
/// (24 random bits per value, `SeededRandom.uniform`); `minimum` -1 gives U[-1, 1)^d. No
/// parameters and no gradient.
public enum UniformNoise {
    public static func fill(_ z: inout Tensor, minimum: Float = 0, random: inout SeededRandom) {
        z.withUnsafeMutableBufferPointer { random.fillUniform($0, in: minimum..<1) }
    }
}
