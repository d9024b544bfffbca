extension Kernels {
    /// Whether the stride-1 depthwise pass keeps its window of input columns in
    /// registers: with AVX-512's 32 registers that ran 1.1-1.5x faster (Zen 4); with
    /// AVX2's 16 the window spilled and ran several times slower. (Tried for AVX2: six
    /// columns of 8 channels with their window in registers, 13 ymm registers, fewer loads
    /// per multiply-add on paper; on an Intel Xeon, AVX2 build, `taggan bench kernels`
    /// best of 5 alternating runs at load 3-5, 3x3 rows ran at 22-24 GFLOP/s against
    /// 43-44 for this kernel, and 5x5 rows spilled: not kept.)
    @inline(__always) static var windowInRegisters: Bool {
        #if TAGGAN_VECTOR_512
        return true
        #else
        return false
        #endif
    }

    /// Whether the stride-1 depthwise pass keeps the window in registers 8 channels at a
    /// time instead (each 16-channel block as two halves): four 8-lane accumulators, the
    /// four-column window and one weight row are 9 of AVX2's 16 ymm registers, so nothing
    /// spills, and a tap costs one weight load and one input load per four multiply-adds
    /// instead of five loads (the 16-lane path without the window, whose input loads went
    /// into the multiply-adds). Not for the generic build: its 8-lane vectors are two SSE
    /// registers each, 18 of 16.
    @inline(__always) static var halfWindowInRegisters: Bool {
        #if TAGGAN_VECTOR_FMA && !TAGGAN_VECTOR_512
        return true
        #else
        return false
        #endif
    }

    /// One output row of a depthwise k x k convolution with folded bias and ReLU6, on
    /// NHWC rows ([width, channels]):
    ///
    ///     out[ox, c] = relu6(bias[c] + sum_{ky, kx} rows[ky][ox*s + kx - padLeft, c] * w[ky, kx, c])
    ///
    /// `rows[ky]` is the input row for tap row ky, nil where that row is padding; taps
    /// left or right of the row count as zero. `weights` is [k, k, channels].
    ///
    /// 16 channels at a time: the columns whose taps all fall inside the input go four at
    /// a time (four accumulators share each weight load, and the tap loop has no bounds),
    /// the border columns one at a time with clipped taps. k is a constant inside the
    /// loops for the 3x3 and 5x5 kernels, so the tap loop unrolls. (Before: one pixel at
    /// a time with two loads per multiply-add, a quarter of lite0's time.)
    public static func depthwiseRow(width: Int, channels: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                    kernel: Int, stride: Int, padLeft: Int, outWidth: Int,
                                    rows: UnsafePointer<UnsafePointer<Float>?>, output: UnsafeMutablePointer<Float>) {
        let layer = Layer(width: width, channels: channels, weights: weights, bias: bias,
                          kernel: kernel, stride: stride, padLeft: padLeft, outWidth: outWidth)
        // (A constant stride 2 made the stride-2 passes slower, so only 1 is specialised.)
        switch (kernel, stride) {
        case (3, 1): depthwiseRow(layer, rows: rows, output: output, kernel: 3, stride: 1, window: windowInRegisters || halfWindowInRegisters)
        case (5, 1): depthwiseRow(layer, rows: rows, output: output, kernel: 5, stride: 1, window: windowInRegisters || halfWindowInRegisters)
        case (3, _): depthwiseRow(layer, rows: rows, output: output, kernel: 3, stride: stride, window: false)
        case (5, _): depthwiseRow(layer, rows: rows, output: output, kernel: 5, stride: stride, window: false)
        default: depthwiseRow(layer, rows: rows, output: output, kernel: kernel, stride: stride, window: false)
        }
    }

    /// `depthwiseRow`'s arguments besides its rows.
    struct Layer {
        let width: Int, channels: Int
        let weights: UnsafePointer<Float>, bias: UnsafePointer<Float>
        let kernel: Int, stride: Int, padLeft: Int, outWidth: Int
    }

    /// The body of `depthwiseRow`, inlined once per kernel size (and for stride 1) so that
    /// `k` (and `s`) are constants. `window`: stride 1 only, see `windowInRegisters`.
    @inline(__always)
    private static func depthwiseRow(_ layer: Layer, rows: UnsafePointer<UnsafePointer<Float>?>,
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
            let b = Lanes.load16(bias + c)
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
                let offset = (ox * s - padLeft) * channels + c
                if window && halfWindowInRegisters {
                    if k == 3 {
                        windowHalves3(rows, channels, offset, weights + c, bias + c, output + ox * channels + c)
                    } else if k == 5 {
                        windowHalves5(rows, channels, offset, weights + c, bias + c, output + ox * channels + c)
                    } else {
                        windowHalves(rows: rows, kernel: k, channels: channels, offset: offset,
                                     weights: weights + c, bias: bias + c, output: output + ox * channels + c)
                    }
                    ox += 4
                    continue
                }
                var a0 = b, a1 = b, a2 = b, a3 = b
                for ky in 0..<k {
                    guard let row = rows[ky] else { continue }
                    let inRow = row + offset
                    let wRow = weights + ky * k * channels + c
                    if window {
                        // The four columns' inputs for tap kx are input columns j + kx: keep
                        // them in registers as a window that moves by one column per tap,
                        // so each input is loaded once per row of taps, not once per tap.
                        var x0 = Lanes.load16(inRow), x1 = Lanes.load16(inRow + channels)
                        var x2 = Lanes.load16(inRow + 2 * channels), x3 = Lanes.load16(inRow + 3 * channels)
                        for kx in 0..<k {
                            let w = Lanes.load16(wRow + kx * channels)
                            a0 = Lanes.multiplyAdd(a0, x0, w); a1 = Lanes.multiplyAdd(a1, x1, w)
                            a2 = Lanes.multiplyAdd(a2, x2, w); a3 = Lanes.multiplyAdd(a3, x3, w)
                            if kx + 1 < k { x0 = x1; x1 = x2; x2 = x3; x3 = Lanes.load16(inRow + (kx + 4) * channels) }
                        }
                    } else {
                        for kx in 0..<k {
                            let w = Lanes.load16(wRow + kx * channels)
                            let i = inRow + kx * channels
                            a0 = Lanes.multiplyAdd(a0, Lanes.load16(i), w)
                            a1 = Lanes.multiplyAdd(a1, Lanes.load16(i + step), w)
                            a2 = Lanes.multiplyAdd(a2, Lanes.load16(i + 2 * step), w)
                            a3 = Lanes.multiplyAdd(a3, Lanes.load16(i + 3 * step), w)
                        }
                    }
                }
                let out = output + ox * channels + c
                Lanes.store16(Lanes.relu6(a0), out)
                Lanes.store16(Lanes.relu6(a1), out + channels)
                Lanes.store16(Lanes.relu6(a2), out + 2 * channels)
                Lanes.store16(Lanes.relu6(a3), out + 3 * channels)
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

    /// `windowHalves` with k = 3 and k = 5 constants, so that the tap loops unroll and the
    /// window moves by register renaming (inlined into `depthwiseRow`'s copies, the
    /// compiler had outlined it with k a variable: loops kept, an accumulator spilled).
    @inline(never)
    private static func windowHalves3(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                      _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                      _ output: UnsafeMutablePointer<Float>) {
        windowHalves(rows: rows, kernel: 3, channels: channels, offset: offset, weights: weights, bias: bias, output: output)
    }

    @inline(never)
    private static func windowHalves5(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                      _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                      _ output: UnsafeMutablePointer<Float>) {
        windowHalves(rows: rows, kernel: 5, channels: channels, offset: offset, weights: weights, bias: bias, output: output)
    }

    /// Four interior output columns of a stride-1 row for one block of 16 channels, as two
    /// halves of 8 channels whose four-column input window stays in registers
    /// (`halfWindowInRegisters`):
    ///
    ///     out[j, c] = relu6(bias[c] + sum_{ky, kx} rows[ky][offset + (j + kx) * channels + c] * w[ky, kx, c]),  j in 0..<4
    ///
    /// `weights`, `bias` and `output` start at the block's first channel, `offset` is the
    /// first column's first channel in the input rows.
    @inline(__always)
    private static func windowHalves(rows: UnsafePointer<UnsafePointer<Float>?>, kernel k: Int, channels: Int, offset: Int,
                                     weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                     output: UnsafeMutablePointer<Float>) {
        for h in stride(from: 0, to: 16, by: 8) {
            let b = Lanes.load8(bias + h)
            var a0 = b, a1 = b, a2 = b, a3 = b
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                let inRow = row + offset + h
                let wRow = weights + ky * k * channels + h
                var x0 = Lanes.load8(inRow), x1 = Lanes.load8(inRow + channels)
                var x2 = Lanes.load8(inRow + 2 * channels), x3 = Lanes.load8(inRow + 3 * channels)
                for kx in 0..<k {
                    let w = Lanes.load8(wRow + kx * channels)
                    a0 = Lanes.multiplyAdd(a0, x0, w); a1 = Lanes.multiplyAdd(a1, x1, w)
                    a2 = Lanes.multiplyAdd(a2, x2, w); a3 = Lanes.multiplyAdd(a3, x3, w)
                    if kx + 1 < k { x0 = x1; x1 = x2; x2 = x3; x3 = Lanes.load8(inRow + (kx + 4) * channels) }
                }
            }
            let out = output + h
            Lanes.store8(Lanes.relu6(a0), out)
            Lanes.store8(Lanes.relu6(a1), out + channels)
            Lanes.store8(Lanes.relu6(a2), out + 2 * channels)
            Lanes.store8(Lanes.relu6(a3), out + 3 * channels)
        }
    }

    /// One output pixel of `depthwiseRow` over a range of channels, taps clipped to the input.
    @inline(__always)
    private static func depthwisePixel(_ layer: Layer, rows: UnsafePointer<UnsafePointer<Float>?>,
                                       output: UnsafeMutablePointer<Float>, ox: Int, channels range: Range<Int>) {
        let k = layer.kernel, channels = layer.channels, weights = layer.weights, bias = layer.bias
        let ix0 = ox * layer.stride - layer.padLeft
        let kx0 = max(0, -ix0), kx1 = min(k, layer.width - ix0)
        let out = output + ox * channels
        var c = range.lowerBound
        while c + 16 <= range.upperBound {
            var a = Lanes.load16(bias + c)
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                let inRow = row + ix0 * channels + c
                let wRow = weights + ky * k * channels + c
                for kx in kx0..<kx1 { a = Lanes.multiplyAdd(a, Lanes.load16(inRow + kx * channels), Lanes.load16(wRow + kx * channels)) }
            }
            Lanes.store16(Lanes.relu6(a), out + c)
            c += 16
        }
        while c + 8 <= range.upperBound {
            var a = Lanes.load8(bias + c)
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                let inRow = row + ix0 * channels + c
                let wRow = weights + ky * k * channels + c
                for kx in kx0..<kx1 { a = Lanes.multiplyAdd(a, Lanes.load8(inRow + kx * channels), Lanes.load8(wRow + kx * channels)) }
            }
            Lanes.store8(Lanes.relu6(a), out + c)
            c += 8
        }
        while c < range.upperBound {
            var a = bias[c]
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                for kx in kx0..<kx1 { a += row[(ix0 + kx) * channels + c] * weights[(ky * k + kx) * channels + c] }
            }
            out[c] = Lanes.relu6(a)
            c += 1
        }
    }
}
