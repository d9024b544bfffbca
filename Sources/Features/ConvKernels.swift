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
/// Written with 16-lane SIMD on `+`, `*` and comparisons only (see TagganCore's
/// `VectorKernels` for why), with an 8-lane and a scalar tail for widths that are
/// multiples of 8 but not 16 (EfficientNet-Lite2's).
enum ConvKernels {
    typealias V16 = SIMD16<Float>
    typealias V8 = SIMD8<Float>

    @inline(__always) static func load16(_ p: UnsafePointer<Float>) -> V16 { UnsafeRawPointer(p).loadUnaligned(as: V16.self) }
    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    @inline(__always) static func store16(_ v: V16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self) }
    @inline(__always) static func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self) }

    #if TAGGAN_VECTOR_FMA
    // The target CPU has FMA and AVX2 (Package.swift defines TAGGAN_VECTOR_FMA when it
    // picks one): fused multiply-add and min/max are single vector instructions.
    @inline(__always) static func multiplyAdd(_ acc: V16, _ a: V16, _ b: V16) -> V16 { acc.addingProduct(a, b) }
    @inline(__always) static func multiplyAdd(_ acc: V8, _ a: V8, _ b: V8) -> V8 { acc.addingProduct(a, b) }
    @inline(__always) static func relu6(_ v: V16) -> V16 { pointwiseMin(pointwiseMax(v, V16()), V16(repeating: 6)) }
    @inline(__always) static func relu6(_ v: V8) -> V8 { pointwiseMin(pointwiseMax(v, V8()), V8(repeating: 6)) }
    #else
    // Without a target CPU these would be per-lane library calls or scalar loops (see
    // TagganCore's `VectorKernels`), so: a multiply and an add, comparisons and blends.
    @inline(__always) static func multiplyAdd(_ acc: V16, _ a: V16, _ b: V16) -> V16 { acc + a * b }
    @inline(__always) static func multiplyAdd(_ acc: V8, _ a: V8, _ b: V8) -> V8 { acc + a * b }

    @inline(__always) static func relu6(_ v: V16) -> V16 {
        var v = v
        v.replace(with: V16(), where: v .< V16())
        v.replace(with: V16(repeating: 6), where: v .> V16(repeating: 6))
        return v
    }

    @inline(__always) static func relu6(_ v: V8) -> V8 {
        var v = v
        v.replace(with: V8(), where: v .< V8())
        v.replace(with: V8(repeating: 6), where: v .> V8(repeating: 6))
        return v
    }
    #endif

    @inline(__always) static func relu6(_ v: Float) -> Float { min(max(v, 0), 6) }

    /// Whether the stride-1 depthwise pass keeps its window of input columns in
    /// registers: with AVX-512's 32 registers that ran 1.1-1.5x faster (Zen 4); with
    /// AVX2's 16 the window spilled and ran several times slower.
    #if TAGGAN_VECTOR_512
    @inline(__always) static var windowInRegisters: Bool { true }
    #else
    @inline(__always) static var windowInRegisters: Bool { false }
    #endif

    /// Depthwise k x k convolution with TF "same" padding, folded bias and ReLU6.
    ///
    ///     out[oy, ox, c] = relu6(bias[c] + sum_{ky, kx} in[oy*s + ky - top, ox*s + kx - left, c] * w[ky, kx, c])
    ///
    /// where taps outside the input count as zero. `weights` is [k, k, channels].
    static func depthwise(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                          weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                          kernel k: Int, stride s: Int, padTop: Int, padLeft: Int,
                          output: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int) {
        let layer = DepthwiseLayer(width: width, channels: channels, weights: weights, bias: bias,
                                   kernel: k, stride: s, padLeft: padLeft, outWidth: outWidth)
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: k) { rows in
            for oy in 0..<outHeight {
                for ky in 0..<k {
                    let iy = oy * s + ky - padTop
                    rows[ky] = iy >= 0 && iy < height ? input + iy * width * channels : nil
                }
                depthwiseRow(layer, rows: UnsafePointer(rows.baseAddress!), output: output + oy * outWidth * channels)
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
    ///
    /// 16 channels at a time: the columns whose taps all fall inside the input go four at
    /// a time (four accumulators share each weight load, and the tap loop has no bounds),
    /// the border columns one at a time with clipped taps. k is a constant inside the
    /// loops for the 3x3 and 5x5 kernels, so the tap loop unrolls. (Before: one pixel at
    /// a time with two loads per multiply-add, a quarter of lite0's time.)
    static func depthwiseRow(_ layer: DepthwiseLayer, rows: UnsafePointer<UnsafePointer<Float>?>,
                             output: UnsafeMutablePointer<Float>) {
        // (A constant stride 2 made the stride-2 passes slower, so only 1 is specialised.)
        switch (layer.kernel, layer.stride) {
        case (3, 1): depthwiseRow(layer, rows: rows, output: output, kernel: 3, stride: 1, window: windowInRegisters)
        case (5, 1): depthwiseRow(layer, rows: rows, output: output, kernel: 5, stride: 1, window: windowInRegisters)
        case (3, _): depthwiseRow(layer, rows: rows, output: output, kernel: 3, stride: layer.stride, window: false)
        case (5, _): depthwiseRow(layer, rows: rows, output: output, kernel: 5, stride: layer.stride, window: false)
        default: depthwiseRow(layer, rows: rows, output: output, kernel: layer.kernel, stride: layer.stride, window: false)
        }
    }

    /// The body of `depthwiseRow`, inlined once per kernel size (and for stride 1) so that
    /// `k` (and `s`) are constants. `window`: stride 1 only, see `windowInRegisters`.
    @inline(__always)
    private static func depthwiseRow(_ layer: DepthwiseLayer, rows: UnsafePointer<UnsafePointer<Float>?>,
                                     output: UnsafeMutablePointer<Float>, kernel k: Int, stride s: Int, window: Bool) {
        let width = layer.width, channels = layer.channels, padLeft = layer.padLeft
        let outWidth = layer.outWidth, weights = layer.weights, bias = layer.bias
        // Columns ox with 0 <= ox*s - padLeft and ox*s - padLeft + k <= width.
        let interiorStart = min(outWidth, (padLeft + s - 1) / s)
        let lastInterior = width - k + padLeft >= 0 ? (width - k + padLeft) / s : -1
        let interiorEnd = max(interiorStart, min(outWidth, lastInterior + 1))
        let step = s * channels
        var c = 0
        while c + 16 <= channels {
            let b = load16(bias + c)
            var ox = 0
            while ox < interiorStart {
                depthwisePixel(layer, rows: rows, output: output, ox: ox, channels: c ..< c + 16)
                ox += 1
            }
            while ox < interiorEnd {
                if ox + 4 > interiorEnd {
                    // Fewer than four interior columns left: redo the last four (some twice,
                    // same values) if there are four, else go one at a time.
                    guard interiorEnd - interiorStart >= 4 else { break }
                    ox = interiorEnd - 4
                }
                var a0 = b, a1 = b, a2 = b, a3 = b
                let offset = (ox * s - padLeft) * channels + c
                for ky in 0..<k {
                    guard let row = rows[ky] else { continue }
                    let inRow = row + offset
                    let wRow = weights + ky * k * channels + c
                    if window {
                        // The four columns' inputs for tap kx are input columns j + kx: keep
                        // them in registers as a window that moves by one column per tap,
                        // so each input is loaded once per row of taps, not once per tap.
                        var x0 = load16(inRow), x1 = load16(inRow + channels)
                        var x2 = load16(inRow + 2 * channels), x3 = load16(inRow + 3 * channels)
                        for kx in 0..<k {
                            let w = load16(wRow + kx * channels)
                            a0 = multiplyAdd(a0, x0, w); a1 = multiplyAdd(a1, x1, w)
                            a2 = multiplyAdd(a2, x2, w); a3 = multiplyAdd(a3, x3, w)
                            if kx + 1 < k { x0 = x1; x1 = x2; x2 = x3; x3 = load16(inRow + (kx + 4) * channels) }
                        }
                    } else {
                        for kx in 0..<k {
                            let w = load16(wRow + kx * channels)
                            let i = inRow + kx * channels
                            a0 = multiplyAdd(a0, load16(i), w)
                            a1 = multiplyAdd(a1, load16(i + step), w)
                            a2 = multiplyAdd(a2, load16(i + 2 * step), w)
                            a3 = multiplyAdd(a3, load16(i + 3 * step), w)
                        }
                    }
                }
                let out = output + ox * channels + c
                store16(relu6(a0), out)
                store16(relu6(a1), out + channels)
                store16(relu6(a2), out + 2 * channels)
                store16(relu6(a3), out + 3 * channels)
                ox += 4
            }
            while ox < outWidth {
                depthwisePixel(layer, rows: rows, output: output, ox: ox, channels: c ..< c + 16)
                ox += 1
            }
            c += 16
        }
        if c < channels {
            for ox in 0..<outWidth { depthwisePixel(layer, rows: rows, output: output, ox: ox, channels: c ..< channels) }
        }
    }

    /// One output pixel of `depthwiseRow` over a range of channels, taps clipped to the input.
    @inline(__always)
    private static func depthwisePixel(_ layer: DepthwiseLayer, rows: UnsafePointer<UnsafePointer<Float>?>,
                                       output: UnsafeMutablePointer<Float>, ox: Int, channels range: Range<Int>) {
        let k = layer.kernel, channels = layer.channels, weights = layer.weights, bias = layer.bias
        let ix0 = ox * layer.stride - layer.padLeft
        let kx0 = max(0, -ix0), kx1 = min(k, layer.width - ix0)
        let out = output + ox * channels
        var c = range.lowerBound
        while c + 16 <= range.upperBound {
            var a = load16(bias + c)
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                let inRow = row + ix0 * channels + c
                let wRow = weights + ky * k * channels + c
                for kx in kx0..<kx1 { a = multiplyAdd(a, load16(inRow + kx * channels), load16(wRow + kx * channels)) }
            }
            store16(relu6(a), out + c)
            c += 16
        }
        while c + 8 <= range.upperBound {
            var a = load8(bias + c)
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                let inRow = row + ix0 * channels + c
                let wRow = weights + ky * k * channels + c
                for kx in kx0..<kx1 { a = multiplyAdd(a, load8(inRow + kx * channels), load8(wRow + kx * channels)) }
            }
            store8(relu6(a), out + c)
            c += 8
        }
        while c < range.upperBound {
            var a = bias[c]
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                for kx in kx0..<kx1 { a += row[(ix0 + kx) * channels + c] * weights[(ky * k + kx) * channels + c] }
            }
            out[c] = relu6(a)
            c += 1
        }
    }

    /// Copies a [height, width, channels] image into the middle of a zero border of
    /// `top`, `left`, `bottom`, `right` pixels. With the padding done, a depthwise pass
    /// on a small image (7 or 14 px, where most columns touch the border) has only
    /// interior columns.
    static func pad(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                    top: Int, left: Int, bottom: Int, right: Int, into output: UnsafeMutablePointer<Float>) {
        let paddedWidth = width + left + right, rowLength = width * channels
        let paddedRow = paddedWidth * channels
        output.update(repeating: 0, count: top * paddedRow)
        for y in 0..<height {
            let out = output + (top + y) * paddedRow
            out.update(repeating: 0, count: left * channels)
            (out + left * channels).update(from: input + y * rowLength, count: rowLength)
            (out + left * channels + rowLength).update(repeating: 0, count: right * channels)
        }
        (output + (top + height) * paddedRow).update(repeating: 0, count: bottom * paddedRow)
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
