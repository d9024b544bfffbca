import Foundation
import TagganCore

/// Times the conv net's kernels, every variant this CPU runs, on lite0's layer shapes
/// (`taggan bench kernels`). Each figure is the best of many short timed runs (about
/// half a millisecond each) on data kept in cache, so a busy neighbour on the machine
/// spoils some runs but rarely all, and the best is close to the kernel's own speed.
public enum ConvKernelBenchmark {
    public struct Result: Sendable {
        public let variant: KernelVariant
        /// "1x1 MxKxN" or "dw WxC kxk/s".
        public let shape: String
        /// Multiply-adds x 2 per second, in giga.
        public let gflops: Double
    }

    /// lite0's 1x1 shapes as the network calls them: (rows, inputs, outputs). Rows of one
    /// 112/56/28 px image row in the row-by-row blocks, 14 px images, 4 images of 7 px.
    public static let pointwiseShapes = [
        (112, 32, 16), (112, 16, 96), (56, 96, 24), (56, 24, 144), (56, 144, 24),
        (784, 240, 40), (196, 80, 480), (196, 480, 80), (196, 672, 192), (196, 1152, 192), (196, 320, 1280),
    ]
    /// lite0's depthwise shapes: (input width, channels, kernel, stride), one output row.
    public static let depthwiseShapes = [
        (112, 32, 3, 1), (113, 96, 3, 2), (56, 144, 3, 1), (59, 144, 5, 2), (32, 240, 5, 1), (16, 480, 3, 1),
        (18, 672, 5, 1), (11, 1152, 5, 1),
    ]

    /// Every supported variant on every shape; about `seconds` per measurement.
    public static func run(seconds: Double = 0.1) -> [Result] {
        var results: [Result] = []
        for variant in KernelVariant.allCases where variant.isSupported {
            let kernels = KernelTable.of(variant)
            for (m, k, n) in pointwiseShapes {
                let x = AlignedFloats(values(m * k)), y = AlignedFloats(count: m * n)
                let packed = PointwiseKernel.Packed(weights: values(k * n), bias: values(n), inputs: k, outputs: n)
                let time = best(seconds) {
                    PointwiseKernel.apply(packed, x.pointer, rows: m, into: y.pointer, activate: true, kernels: kernels)
                }
                results.append(Result(variant: variant, shape: "1x1 \(m)x\(k)x\(n)", gflops: Double(2 * m * k * n) / time / 1e9))
            }
            for (width, c, kernel, stride) in depthwiseShapes {
                let outWidth = (width - kernel) / stride + 1
                let input = AlignedFloats(values(kernel * width * c))
                let weights = AlignedFloats(values(kernel * kernel * c)), bias = AlignedFloats(values(c))
                let output = AlignedFloats(count: outWidth * c)
                let layer = ConvKernels.DepthwiseLayer(width: width, channels: c, weights: weights.pointer, bias: bias.pointer,
                                                       kernel: kernel, stride: stride, padLeft: 0, outWidth: outWidth)
                let rows = (0..<kernel).map { Optional(UnsafePointer(input.pointer + $0 * width * c)) }
                let time = rows.withUnsafeBufferPointer { rows in
                    best(seconds) { ConvKernels.depthwiseRow(layer, rows: rows.baseAddress!, output: output.pointer, kernels: kernels) }
                }
                let flops = 2 * outWidth * c * kernel * kernel
                results.append(Result(variant: variant, shape: "dw \(width)x\(c) \(kernel)x\(kernel)/\(stride)",
                                      gflops: Double(flops) / time / 1e9))
            }
        }
        return results
    }

    static func values(_ count: Int) -> [Float] {
        (0..<count).map { Float(($0 * 7919) % 2001 - 1000) / 1000 }
    }

    /// Best seconds per call of `body`, over runs of ~0.5 ms within `seconds` (short, so
    /// that some run between two of a neighbour's time slices).
    static func best(_ seconds: Double, _ body: () -> Void) -> Double {
        body()
        var start = DispatchTime.now().uptimeNanoseconds
        var calls = 1
        body()
        // Calls per timed run: enough for ~0.5 ms.
        let once = max(1, DispatchTime.now().uptimeNanoseconds - start)
        calls = max(1, Int(500_000 / once))
        var best = Double.infinity
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        repeat {
            start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { body() }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(calls))
        } while DispatchTime.now().uptimeNanoseconds < deadline
        return best
    }
}
