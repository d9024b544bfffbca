import Foundation
import TagganCore

/// Multinomial logistic regression, the judge of a class-conditional generator: trained
/// on the real training images, it labels generated ones, and the share it labels as the
/// class they were generated for says whether the samples look like their class.
///
///     p(k | x) = softmax(x W + b)_k,   loss = -mean_r log p(y_r | x_r) + (decay / 2) |W|^2
///     dL/dlogits = (p - onehot(y)) / B,  dW = x^T dL/dlogits + decay W,  db = column sums
///
/// trained by mini-batch SGD with momentum 0.9 (batch 100, epochs over a seeded shuffle).
/// On raw pixels in [0, 1] it is a weak but honest classifier: about 84% test accuracy
/// on Fashion-MNIST and 95% on the 8x8 digits (the reports print the measured value).
public struct SoftmaxRegression: Sendable {
    /// d x classes.
    public var weight: Tensor
    /// 1 x classes.
    public var bias: Tensor

    public var classes: Int { weight.columns }

    public init(train x: Tensor, labels: [Int], classes: Int, epochs: Int = 10, batchSize: Int = 100,
                learningRate: Float = 0.1, decay: Float = 1e-4, seed: UInt64 = 1) {
        precondition(x.rows == labels.count && x.rows > 0, "\(x.rows) rows for \(labels.count) labels")
        let d = x.columns, n = x.rows
        weight = Tensor(zeros: [d, classes])
        bias = Tensor(zeros: [1, classes])
        var velocityW = Tensor(zeros: [d, classes]), velocityB = Tensor(zeros: [1, classes])
        var random = SeededRandom(seed: seed)
        var order = Array(0 ..< n)
        var batch = Tensor(zeros: [batchSize, d]), logits = Tensor(zeros: [0]), gradientW = Tensor(zeros: [0])
        for _ in 0 ..< epochs {
            random.shuffle(&order)
            var start = 0
            while start < n {
                let rows = min(batchSize, n - start)
                if batch.rows != rows { batch = Tensor(zeros: [rows, d]) }
                x.withUnsafeBufferPointer { source in
                    batch.withUnsafeMutableBufferPointer { target in
                        for r in 0 ..< rows {
                            (target.baseAddress! + r * d).update(from: source.baseAddress! + order[start + r] * d, count: d)
                        }
                    }
                }
                logits = probabilities(batch)
                for r in 0 ..< rows {
                    for k in 0 ..< classes {
                        logits[r, k] = (logits[r, k] - (labels[order[start + r]] == k ? 1 : 0)) / Float(rows)
                    }
                }
                gradientW.assignProduct(batch, logits, transposeA: true)
                gradientW.addScaled(weight, by: decay)
                velocityW.scale(by: 0.9)
                velocityW.addScaled(gradientW, by: -learningRate)
                weight += velocityW
                velocityB.scale(by: 0.9)
                for k in 0 ..< classes {
                    var g: Float = 0
                    for r in 0 ..< rows { g += logits[r, k] }
                    velocityB[k] -= learningRate * g
                }
                bias += velocityB
                start += rows
            }
        }
    }

    /// softmax(x W + b) per row (max subtracted before exp, so no overflow).
    public func probabilities(_ x: Tensor) -> Tensor {
        var logits = Tensor.matmul(x, weight)
        let k = classes
        for r in 0 ..< logits.rows {
            var top = -Float.infinity
            for c in 0 ..< k { logits[r, c] += bias[c]; top = max(top, logits[r, c]) }
            var total: Float = 0
            for c in 0 ..< k { logits[r, c] = Foundation.exp(logits[r, c] - top); total += logits[r, c] }
            for c in 0 ..< k { logits[r, c] /= total }
        }
        return logits
    }

    /// The most probable class of each row.
    public func predict(_ x: Tensor) -> [Int] {
        let p = probabilities(x)
        return (0 ..< p.rows).map { r in (0 ..< classes).max { p[r, $0] < p[r, $1] }! }
    }

    /// The share of rows predicted as `labels`.
    public func accuracy(_ x: Tensor, labels: [Int]) -> Double {
        let predicted = predict(x)
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(max(labels.count, 1))
    }
}
