/// The depthwise and element-wise kernels of the conv net, on NHWC activations: one
/// image is a row-major [pixels, channels] matrix, so a 1x1 convolution is one matrix
/// product ([pixels, cin] x [cin, cout], `PointwiseKernel`) and the depthwise kernels
/// vectorise over channels, which are contiguous. (NCHW would make the 1x1 convolutions
/// [cout, cin] x [cin, pixels] products just as well; NHWC was chosen because the
/// depthwise pass then reads whole SIMD vectors of channels per tap, and the decoded RGB
/// bytes are NHWC already. NCHW was not built to compare. Profile, lite0, one thread,
/// CPU time per layer: 1x1 convolutions and stem ~78% (~100 GFLOP/s from 28 px on,
/// 55-75 on the thin early layers), depthwise ~22% at 8-20 G multiply-adds/s, before
/// the AVX-512 target; with sgemm it was sgemm + packing ~51%, depthwise ~18%.)
///
/// The SIMD arithmetic (`Kernels.pointwise`, `Kernels.depthwiseRow`) lives in
/// `_ConvKernels`, compiled once per `KernelVariant` (`KernelTable`); this type holds
/// what drives it: the whole-image depthwise loop, zero padding and the stem's im2col.
enum ConvKernels {
    /// Depthwise k x k convolution with TF "same" padding, folded bias and ReLU6.
    ///
    ///     out[oy, ox, c] = relu6(bias[c] + sum_{ky, kx} in[oy*s + ky - top, ox*s + kx - left, c] * w[ky, kx, c])
    ///
    /// where taps outside the input count as zero. `weights` is [k, k, channels].
    static func depthwise(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                          weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                          kernel k: Int, stride s: Int, padTop: Int, padLeft: Int,
                          output: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int,
                          kernels: KernelTable = .chosen) {
        let layer = DepthwiseLayer(width: width, channels: channels, weights: weights, bias: bias,
                                   kernel: k, stride: s, padLeft: padLeft, outWidth: outWidth)
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: k) { rows in
            for oy in 0..<outHeight {
                for ky in 0..<k {
                    let iy = oy * s + ky - padTop
                    rows[ky] = iy >= 0 && iy < height ? input + iy * width * channels : nil
                }
                depthwiseRow(layer, rows: UnsafePointer(rows.baseAddress!), output: output + oy * outWidth * channels,
                             kernels: kernels)
            }
        }
    }

    /// What one output row of a depthwise convolution needs besides its input rows.
    struct DepthwiseLayer {
        let width: Int, channels: Int
        let weights: UnsafePointer<Float>, bias: UnsafePointer<Float>
        let kernel: Int, stride: Int, padLeft: Int, outWidth: Int
    }

    /// One output row of `depthwise`: `rows[ky]` is input row oy*s + ky - top, nil where
    /// that row is padding. Taking rows by pointer lets a block feed the rows from a
    /// small ring of freshly expanded rows (`EfficientNet.blockByRows`).
    @inline(__always)
    static func depthwiseRow(_ layer: DepthwiseLayer, rows: UnsafePointer<UnsafePointer<Float>?>,
                             output: UnsafeMutablePointer<Float>, kernels: KernelTable = .chosen) {
        kernels.depthwiseRow(layer.width, layer.channels, layer.weights, layer.bias, layer.kernel, layer.stride,
                             layer.padLeft, layer.outWidth, rows, output)
    }

    /// Copies a [height, width, channels] image into the middle of a zero border of
    /// `top`, `left`, `bottom`, `right` pixels. With the padding done, a depthwise pass
    /// on a small image (7 or 14 px, where most columns touch the border) has only
    /// interior columns. `borderIsZero`: `output` was last filled by this same layout, so
    /// its border is zero already and only the middle is written.
    static func pad(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                    top: Int, left: Int, bottom: Int, right: Int, into output: UnsafeMutablePointer<Float>,
                    borderIsZero: Bool = false) {
        let paddedWidth = width + left + right, rowLength = width * channels
        let paddedRow = paddedWidth * channels
        if !borderIsZero { output.update(repeating: 0, count: top * paddedRow) }
        for y in 0..<height {
            let out = output + (top + y) * paddedRow
            if !borderIsZero { out.update(repeating: 0, count: left * channels) }
            (out + left * channels).update(from: input + y * rowLength, count: rowLength)
            if !borderIsZero { (out + left * channels + rowLength).update(repeating: 0, count: right * channels) }
        }
        if !borderIsZero { (output + (top + height) * paddedRow).update(repeating: 0, count: bottom * paddedRow) }
    }

    /// im2col for the stem: row (oy, ox) holds the k x k x channels patch in (ky, kx, c)
    /// order, zeros where the patch leaves the image (TF "same" padding). Only the output
    /// rows `outRows` are made, stored from `output` on.
    static func patches(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                        kernel k: Int, stride s: Int, padTop: Int, padLeft: Int,
                        output: UnsafeMutablePointer<Float>, outRows: Range<Int>, outWidth: Int) {
        let rowLength = k * k * channels
        for oy in outRows {
            for ox in 0..<outWidth {
                let out = output + ((oy - outRows.lowerBound) * outWidth + ox) * rowLength
                for ky in 0..<k {
                    let iy = oy * s + ky - padTop
                    for kx in 0..<k {
                        let ix = ox * s + kx - padLeft
                        let o = out + (ky * k + kx) * channels
                        if iy < 0 || iy >= height || ix < 0 || ix >= width {
                            for c in 0..<channels { o[c] = 0 }
                        } else {
                            let i = input + (iy * width + ix) * channels
                            for c in 0..<channels { o[c] = i[c] }
                        }
                    }
                }
            }
        }
    }
}
