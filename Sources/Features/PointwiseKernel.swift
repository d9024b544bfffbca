/// The 1x1 convolutions of the conv net (and the stem, as a product with im2col
/// patches): y = x W + bias, then ReLU6 or a residual add, over a [rows, inputs]
/// row-major activation x (NHWC: one row per pixel).
///
/// A small matrix-product kernel of our own rather than sgemm, because for these shapes
/// most of sgemm's time went around the arithmetic: packing the activations and the
/// weights on every call, zeroing the output (beta = 0), then a separate pass for bias
/// and ReLU6 over the output. Here the weights are packed once, at load time, and the
/// activations are read where they are; the bias, ReLU6 and the residual are applied to
/// the accumulators before the single store. Measured on lite0's shapes, one thread:
/// 75-114 GFLOP/s against 63-103 for OpenBLAS's sgemm (SkylakeX kernel) plus the bias
/// pass, with the largest gains on the thin early layers (K = 16, 32).
///
/// The arithmetic is `Kernels.pointwise` in `_ConvKernels` (6 rows x 16 columns of
/// accumulators; the AVX-512 build 6 x 32, two adjacent panels at a time, or 12 x 24 for a
/// full panel and a narrow last one together, from this same packing), compiled once per
/// `KernelVariant`; this type packs the weights and calls the variant the network was
/// built with (`KernelTable`).
enum PointwiseKernel {
    /// Weights [inputs, outputs] (row-major) and a bias, packed for `apply`: panels of 16
    /// output columns, each [inputs, 16] contiguous, the last panel and the bias padded
    /// with zeros. When 8 or fewer columns are left for the last panel it is 8 wide
    /// ([inputs, 8]), so that outputs of 24 or 40 channels (lite0's early projections)
    /// do not compute 32 or 48.
    struct Packed {
        let inputs: Int, outputs: Int
        let panels: Int
        /// 8 or 16: the width of the last panel.
        let lastWidth: Int
        /// [panels][inputs][16] (the last panel [inputs][lastWidth])
        let weights: AlignedFloats
        /// [panels * 16]
        let bias: AlignedFloats

        init(weights w: [Float], bias b: [Float], inputs: Int, outputs: Int) {
            precondition(w.count == inputs * outputs && b.count == outputs)
            self.inputs = inputs
            self.outputs = outputs
            panels = (outputs + 15) / 16
            lastWidth = (1...8).contains(outputs % 16) ? 8 : 16
            weights = AlignedFloats(count: panels * inputs * 16)
            bias = AlignedFloats(count: panels * 16)
            for p in 0..<panels {
                let width = p == panels - 1 ? lastWidth : 16
                for i in 0..<inputs {
                    for j in 0..<width where p * 16 + j < outputs {
                        weights.pointer[p * inputs * 16 + i * width + j] = w[i * outputs + p * 16 + j]
                    }
                }
            }
            for o in 0..<outputs { bias.pointer[o] = b[o] }
        }
    }

    /// y[r, :] = x[r, :] W + bias for r in 0..<rows, then ReLU6 when `activate`, then
    /// + residual[r, :] when given (MBConv adds the skip to the linear projection).
    /// x is [rows, inputs], y and residual are [rows, outputs], all row-major and dense.
    /// `weightChunkBytes`: see `ConvBlocking`.
    static func apply(_ layer: Packed, _ x: UnsafePointer<Float>, rows m: Int,
                      into y: UnsafeMutablePointer<Float>, activate: Bool,
                      residual: UnsafePointer<Float>? = nil,
                      kernels: KernelTable = .chosen, weightChunkBytes: Int = 256 * 1024) {
        let chunkPanels = max(1, weightChunkBytes / (layer.inputs * 16 * MemoryLayout<Float>.stride))
        kernels.pointwise(layer.weights.pointer, layer.bias.pointer, layer.inputs, layer.outputs, layer.panels,
                          layer.lastWidth, chunkPanels, x, m, y, activate, residual)
    }
}

/// A Float buffer aligned to 64 bytes (a cache line), so 16-lane loads never straddle
/// two lines: unaligned (Swift arrays are 16-byte aligned), the depthwise kernel ran
/// ~30% slower.
final class AlignedFloats: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    deinit { pointer.deallocate() }
}
