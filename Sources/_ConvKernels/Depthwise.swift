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
        // AVX-512: the interior columns eight at a time (`eightColumns`), or on rows of
        // four to seven interior columns (7 px layers, stride 1) four at a time for two
        // blocks of 16 channels: eight multiply-add chains in flight either way (four left
        // the FMA units half idle, each accumulator waiting the multiply-add's latency for
        // the previous tap). AVX2 (`halfEightColumns`): eight interior columns for 8
        // channels at a time (`streamEight3/5` for stride 1, `columnsEight3/5` on 8 lanes
        // for stride 2), eight chains too, instead of the four of `windowHalves` and the
        // 16-channel four-column loop below. Every block of channels of a group of columns
        // before the next group, so the input is read pixel after pixel; the last group
        // redoes some columns (same values) rather than leave them to a narrower path.
        let interior = interiorEnd - interiorStart
        let half = halfEightColumns  // a constant of the build, as `eightColumns`
        if (eightColumns || half) && (k == 3 || k == 5) && (interior >= 8 || (eightColumns && window && interior >= 4)) {
            let wide = interior >= 8, group = wide ? 8 : 4
            let unit = half ? 8 : wide ? 16 : 32
            let blocks = channels / unit * unit
            let chunk = max(unit, weightBudget / (k * k * 4) / unit * unit)
            var first = 0
            while first < blocks {
                let last = min(blocks, first + chunk)
                var ox = interiorStart
                while ox < interiorEnd {
                    if ox + group > interiorEnd { ox = interiorEnd - group }
                    let offset = (ox * s - padLeft) * channels, out = output + ox * channels
                    var b = first
                    while b < last {
                        switch (half, wide, window, k) {
                        case (true, _, true, 3): streamEight3(rows, channels, offset + b, weights + b, bias + b, out + b)
                        case (true, _, true, _): streamEight5(rows, channels, offset + b, weights + b, bias + b, out + b)
                        case (true, _, false, 3): columnsEight3(Lanes.V8.self, rows, channels, s, offset + b, weights + b, bias + b, out + b)
                        case (true, _, false, _): columnsEight5(Lanes.V8.self, rows, channels, s, offset + b, weights + b, bias + b, out + b)
                        case (false, true, true, 3): windowEight3(rows, channels, offset + b, weights + b, bias + b, out + b)
                        case (false, true, true, _): windowEight5(rows, channels, offset + b, weights + b, bias + b, out + b)
                        case (false, true, false, 3): columnsEight3(Lanes.V16.self, rows, channels, s, offset + b, weights + b, bias + b, out + b)
                        case (false, true, false, _): columnsEight5(Lanes.V16.self, rows, channels, s, offset + b, weights + b, bias + b, out + b)
                        case (false, false, _, 3): windowPair3(rows, channels, offset + b, weights + b, bias + b, out + b)
                        case (false, false, _, _): windowPair5(rows, channels, offset + b, weights + b, bias + b, out + b)
                        }
                        b += unit
                    }
                    ox += group
                }
                first = last
            }
            if blocks > 0 {
                for ox in 0..<interiorStart { depthwisePixel(layer, rows: rows, output: output, ox: ox, channels: 0 ..< blocks) }
                for ox in interiorEnd..<outWidth { depthwisePixel(layer, rows: rows, output: output, ox: ox, channels: 0 ..< blocks) }
            }
            c = blocks
        }
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

    /// Whether interior columns go eight at a time (`windowEight`, `columnsEight`): eight
    /// 16-lane accumulators, an eight-column window and a weight are 17 of AVX-512's 32
    /// registers. (AVX2 has 16: its stride-1 path is `windowHalves`.)
    @inline(__always) static var eightColumns: Bool { windowInRegisters }

    /// Bytes of weights the eight-column pass goes over for a group of columns before it
    /// moves to the next group (`depthwiseRow`): all blocks of channels of the group at
    /// once reads the input pixel after pixel (3x3 rows of 32-144 channels: 96 -> 108
    /// GFLOP/s, 3x3/2 43 -> 51), but where the weights outgrow L1 (5x5 rows of 240-1152
    /// channels) one block at a time across the row was faster (120 against 106). Chunks
    /// of channels whose weights take 8 KiB (a sixth of the Xeon's 48 KiB L1d, a quarter
    /// of Zen's 32) were within noise of the better of the two on every lite0 row
    /// (`taggan bench kernels`, Xeon, best of 3 runs of 1, 4, 8, 16 KiB and unlimited).
    static let weightBudget = 8192

    @inline(never)
    private static func windowEight3(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                     _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                     _ output: UnsafeMutablePointer<Float>) {
        windowEight(rows: rows, kernel: 3, channels: channels, offset: offset, weights: weights, bias: bias, output: output)
    }

    @inline(never)
    private static func windowEight5(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                     _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                     _ output: UnsafeMutablePointer<Float>) {
        windowEight(rows: rows, kernel: 5, channels: channels, offset: offset, weights: weights, bias: bias, output: output)
    }

    /// Eight interior output columns of a stride-1 row for one block of 16 channels, the
    /// eight-column input window in registers (moved by one column per tap):
    ///
    ///     out[j, c] = relu6(bias[c] + sum_{ky, kx} rows[ky][offset + (j + kx) * channels + c] * w[ky, kx, c]),  j in 0..<8
    ///
    /// `weights`, `bias` and `output` start at the block's first channel, `offset` is the
    /// first column's first channel in the input rows.
    @inline(__always)
    private static func windowEight(rows: UnsafePointer<UnsafePointer<Float>?>, kernel k: Int, channels: Int, offset: Int,
                                    weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                    output: UnsafeMutablePointer<Float>) {
        let b = Lanes.load16(bias)
        var a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b
        for ky in 0..<k {
            guard let row = rows[ky] else { continue }
            let i = row + offset, wRow = weights + ky * k * channels
            var x0 = Lanes.load16(i), x1 = Lanes.load16(i + channels)
            var x2 = Lanes.load16(i + 2 * channels), x3 = Lanes.load16(i + 3 * channels)
            var x4 = Lanes.load16(i + 4 * channels), x5 = Lanes.load16(i + 5 * channels)
            var x6 = Lanes.load16(i + 6 * channels), x7 = Lanes.load16(i + 7 * channels)
            for kx in 0..<k {
                let w = Lanes.load16(wRow + kx * channels)
                a0 = Lanes.multiplyAdd(a0, x0, w); a1 = Lanes.multiplyAdd(a1, x1, w)
                a2 = Lanes.multiplyAdd(a2, x2, w); a3 = Lanes.multiplyAdd(a3, x3, w)
                a4 = Lanes.multiplyAdd(a4, x4, w); a5 = Lanes.multiplyAdd(a5, x5, w)
                a6 = Lanes.multiplyAdd(a6, x6, w); a7 = Lanes.multiplyAdd(a7, x7, w)
                if kx + 1 < k {
                    x0 = x1; x1 = x2; x2 = x3; x3 = x4; x4 = x5; x5 = x6; x6 = x7
                    x7 = Lanes.load16(i + (kx + 8) * channels)
                }
            }
        }
        storeEight(a0, a1, a2, a3, a4, a5, a6, a7, output, channels)
    }

    @inline(never)
    private static func columnsEight3<V: LaneVector>(_ lanes: V.Type, _ rows: UnsafePointer<UnsafePointer<Float>?>,
                                                     _ channels: Int, _ stride: Int, _ offset: Int,
                                                     _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                                     _ output: UnsafeMutablePointer<Float>) {
        columnsEight(lanes, rows: rows, kernel: 3, channels: channels, stride: stride, offset: offset,
                     weights: weights, bias: bias, output: output)
    }

    @inline(never)
    private static func columnsEight5<V: LaneVector>(_ lanes: V.Type, _ rows: UnsafePointer<UnsafePointer<Float>?>,
                                                     _ channels: Int, _ stride: Int, _ offset: Int,
                                                     _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                                     _ output: UnsafeMutablePointer<Float>) {
        columnsEight(lanes, rows: rows, kernel: 5, channels: channels, stride: stride, offset: offset,
                     weights: weights, bias: bias, output: output)
    }

    /// Eight interior output columns of a row of any stride for one block of 16 channels
    /// (V16, AVX-512) or of 8 (V8, AVX2's stride-2 rows), each tap's inputs loaded as they
    /// are used (one weight load per eight multiply-adds):
    ///
    ///     out[j, c] = relu6(bias[c] + sum_{ky, kx} rows[ky][offset + (j * stride + kx) * channels + c] * w[ky, kx, c])
    @inline(__always)
    private static func columnsEight<V: LaneVector>(_: V.Type, rows: UnsafePointer<UnsafePointer<Float>?>, kernel k: Int,
                                                    channels: Int, stride s: Int, offset: Int,
                                                    weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                                    output: UnsafeMutablePointer<Float>) {
        let b = V.load(bias), step = s * channels
        var a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b
        for ky in 0..<k {
            guard let row = rows[ky] else { continue }
            let inRow = row + offset, wRow = weights + ky * k * channels
            for kx in 0..<k {
                let w = V.load(wRow + kx * channels)
                let i = inRow + kx * channels
                a0 = V.multiplyAdd(a0, V.load(i), w)
                a1 = V.multiplyAdd(a1, V.load(i + step), w)
                a2 = V.multiplyAdd(a2, V.load(i + 2 * step), w)
                a3 = V.multiplyAdd(a3, V.load(i + 3 * step), w)
                a4 = V.multiplyAdd(a4, V.load(i + 4 * step), w)
                a5 = V.multiplyAdd(a5, V.load(i + 5 * step), w)
                a6 = V.multiplyAdd(a6, V.load(i + 6 * step), w)
                a7 = V.multiplyAdd(a7, V.load(i + 7 * step), w)
            }
        }
        storeEight(a0, a1, a2, a3, a4, a5, a6, a7, output, channels)
    }

    @inline(never)
    private static func windowPair3(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                    _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                    _ output: UnsafeMutablePointer<Float>) {
        windowPair(rows: rows, kernel: 3, channels: channels, offset: offset, weights: weights, bias: bias, output: output)
    }

    @inline(never)
    private static func windowPair5(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                    _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                    _ output: UnsafeMutablePointer<Float>) {
        windowPair(rows: rows, kernel: 5, channels: channels, offset: offset, weights: weights, bias: bias, output: output)
    }

    /// Four interior output columns of a stride-1 row for two blocks of 16 channels (32
    /// channels from the first), each block's four-column window in registers:
    ///
    ///     out[j, c] = relu6(bias[c] + sum_{ky, kx} rows[ky][offset + (j + kx) * channels + c] * w[ky, kx, c]),  j in 0..<4, c in 0..<32
    @inline(__always)
    private static func windowPair(rows: UnsafePointer<UnsafePointer<Float>?>, kernel k: Int, channels: Int, offset: Int,
                                   weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                   output: UnsafeMutablePointer<Float>) {
        let b = Lanes.load16(bias), d = Lanes.load16(bias + 16)
        var a0 = b, a1 = b, a2 = b, a3 = b, e0 = d, e1 = d, e2 = d, e3 = d
        for ky in 0..<k {
            guard let row = rows[ky] else { continue }
            let i = row + offset, wRow = weights + ky * k * channels
            var x0 = Lanes.load16(i), x1 = Lanes.load16(i + channels)
            var x2 = Lanes.load16(i + 2 * channels), x3 = Lanes.load16(i + 3 * channels)
            var y0 = Lanes.load16(i + 16), y1 = Lanes.load16(i + channels + 16)
            var y2 = Lanes.load16(i + 2 * channels + 16), y3 = Lanes.load16(i + 3 * channels + 16)
            for kx in 0..<k {
                let w = Lanes.load16(wRow + kx * channels), v = Lanes.load16(wRow + kx * channels + 16)
                a0 = Lanes.multiplyAdd(a0, x0, w); a1 = Lanes.multiplyAdd(a1, x1, w)
                a2 = Lanes.multiplyAdd(a2, x2, w); a3 = Lanes.multiplyAdd(a3, x3, w)
                e0 = Lanes.multiplyAdd(e0, y0, v); e1 = Lanes.multiplyAdd(e1, y1, v)
                e2 = Lanes.multiplyAdd(e2, y2, v); e3 = Lanes.multiplyAdd(e3, y3, v)
                if kx + 1 < k {
                    x0 = x1; x1 = x2; x2 = x3; x3 = Lanes.load16(i + (kx + 4) * channels)
                    y0 = y1; y1 = y2; y2 = y3; y3 = Lanes.load16(i + (kx + 4) * channels + 16)
                }
            }
        }
        Lanes.store16(Lanes.relu6(a0), output); Lanes.store16(Lanes.relu6(a1), output + channels)
        Lanes.store16(Lanes.relu6(a2), output + 2 * channels); Lanes.store16(Lanes.relu6(a3), output + 3 * channels)
        let o = output + 16
        Lanes.store16(Lanes.relu6(e0), o); Lanes.store16(Lanes.relu6(e1), o + channels)
        Lanes.store16(Lanes.relu6(e2), o + 2 * channels); Lanes.store16(Lanes.relu6(e3), o + 3 * channels)
    }

    /// ReLU6 of eight accumulators into eight consecutive output columns.
    @inline(__always)
    private static func storeEight<V: LaneVector>(_ a0: V, _ a1: V, _ a2: V, _ a3: V, _ a4: V, _ a5: V, _ a6: V, _ a7: V,
                                                  _ out: UnsafeMutablePointer<Float>, _ channels: Int) {
        V.store(V.relu6(a0), out); V.store(V.relu6(a1), out + channels)
        V.store(V.relu6(a2), out + 2 * channels); V.store(V.relu6(a3), out + 3 * channels)
        V.store(V.relu6(a4), out + 4 * channels); V.store(V.relu6(a5), out + 5 * channels)
        V.store(V.relu6(a6), out + 6 * channels); V.store(V.relu6(a7), out + 7 * channels)
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

    /// Whether interior columns go eight at a time for 8 channels: stride 1 by
    /// `streamEight3/5` (below), stride 2 by `columnsEight3/5` on 8 lanes, whose eight 8-lane
    /// accumulators and a weight are 9 of AVX2's 16 ymm registers, the inputs loaded into
    /// the multiply-adds: nine loads per eight multiply-adds (the 16-channel loop it
    /// replaces: ten) and eight independent chains. With a multiply-add's latency of 4-5
    /// cycles, four chains (`windowHalves`) leave two FMA units (Zen 2-4, Intel) half idle,
    /// and even Zen 1's one 256-bit multiply-add a cycle waits on its latency with four (4
    /// per 5 cycles). Not for the generic build (8-lane vectors are SSE pairs there) nor
    /// AVX-512 (`eightColumns`).
    @inline(__always) static var halfEightColumns: Bool { halfWindowInRegisters }

    /// Eight interior output columns of a stride-1 row for one block of 8 channels, for
    /// AVX2 (`halfEightColumns`): each input column is loaded once per row of taps and
    /// multiplied into every accumulator it feeds, the row's k weights held in registers:
    ///
    ///     out[j, c] = relu6(bias[c] + sum_{ky, kx} rows[ky][offset + (j + kx) * channels + c] * w[ky, kx, c]),  j in 0..<8
    ///
    /// Eight accumulators, k weights and one input are 12 (3x3) or 14 (5x5) of the 16 ymm
    /// registers: eight multiply-add chains where the four-column window (`windowHalves`)
    /// has four, and fewer loads per multiply-add (13 per 24 for 3x3, 17 per 40 for 5x5,
    /// against 9 per 12). Each accumulator takes its taps in the order kx = 0, 1, ..., as
    /// every other path does, so the results are the same to the bit. Written out for
    /// k = 3 and 5 (input column c feeds output columns c - kx), so that nothing but
    /// registers holds the accumulators.
    @inline(never)
    private static func streamEight3(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                     _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                     _ output: UnsafeMutablePointer<Float>) {
        let b = Lanes.load8(bias)
        var a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b
        for ky in 0..<3 {
            guard let row = rows[ky] else { continue }
            let i = row + offset, wRow = weights + ky * 3 * channels
            let w0 = Lanes.load8(wRow), w1 = Lanes.load8(wRow + 1 * channels), w2 = Lanes.load8(wRow + 2 * channels)
            var x = Lanes.load8(i)
            a0 = Lanes.multiplyAdd(a0, x, w0)
            x = Lanes.load8(i + 1 * channels)
            a1 = Lanes.multiplyAdd(a1, x, w0); a0 = Lanes.multiplyAdd(a0, x, w1)
            x = Lanes.load8(i + 2 * channels)
            a2 = Lanes.multiplyAdd(a2, x, w0); a1 = Lanes.multiplyAdd(a1, x, w1)
            a0 = Lanes.multiplyAdd(a0, x, w2)
            x = Lanes.load8(i + 3 * channels)
            a3 = Lanes.multiplyAdd(a3, x, w0); a2 = Lanes.multiplyAdd(a2, x, w1)
            a1 = Lanes.multiplyAdd(a1, x, w2)
            x = Lanes.load8(i + 4 * channels)
            a4 = Lanes.multiplyAdd(a4, x, w0); a3 = Lanes.multiplyAdd(a3, x, w1)
            a2 = Lanes.multiplyAdd(a2, x, w2)
            x = Lanes.load8(i + 5 * channels)
            a5 = Lanes.multiplyAdd(a5, x, w0); a4 = Lanes.multiplyAdd(a4, x, w1)
            a3 = Lanes.multiplyAdd(a3, x, w2)
            x = Lanes.load8(i + 6 * channels)
            a6 = Lanes.multiplyAdd(a6, x, w0); a5 = Lanes.multiplyAdd(a5, x, w1)
            a4 = Lanes.multiplyAdd(a4, x, w2)
            x = Lanes.load8(i + 7 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w0); a6 = Lanes.multiplyAdd(a6, x, w1)
            a5 = Lanes.multiplyAdd(a5, x, w2)
            x = Lanes.load8(i + 8 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w1); a6 = Lanes.multiplyAdd(a6, x, w2)
            x = Lanes.load8(i + 9 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w2)
        }
        storeEight(a0, a1, a2, a3, a4, a5, a6, a7, output, channels)
    }

    @inline(never)
    private static func streamEight5(_ rows: UnsafePointer<UnsafePointer<Float>?>, _ channels: Int, _ offset: Int,
                                     _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                     _ output: UnsafeMutablePointer<Float>) {
        let b = Lanes.load8(bias)
        var a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b
        for ky in 0..<5 {
            guard let row = rows[ky] else { continue }
            let i = row + offset, wRow = weights + ky * 5 * channels
            let w0 = Lanes.load8(wRow), w1 = Lanes.load8(wRow + 1 * channels), w2 = Lanes.load8(wRow + 2 * channels)
            let w3 = Lanes.load8(wRow + 3 * channels), w4 = Lanes.load8(wRow + 4 * channels)
            var x = Lanes.load8(i)
            a0 = Lanes.multiplyAdd(a0, x, w0)
            x = Lanes.load8(i + 1 * channels)
            a1 = Lanes.multiplyAdd(a1, x, w0); a0 = Lanes.multiplyAdd(a0, x, w1)
            x = Lanes.load8(i + 2 * channels)
            a2 = Lanes.multiplyAdd(a2, x, w0); a1 = Lanes.multiplyAdd(a1, x, w1)
            a0 = Lanes.multiplyAdd(a0, x, w2)
            x = Lanes.load8(i + 3 * channels)
            a3 = Lanes.multiplyAdd(a3, x, w0); a2 = Lanes.multiplyAdd(a2, x, w1)
            a1 = Lanes.multiplyAdd(a1, x, w2); a0 = Lanes.multiplyAdd(a0, x, w3)
            x = Lanes.load8(i + 4 * channels)
            a4 = Lanes.multiplyAdd(a4, x, w0); a3 = Lanes.multiplyAdd(a3, x, w1)
            a2 = Lanes.multiplyAdd(a2, x, w2); a1 = Lanes.multiplyAdd(a1, x, w3)
            a0 = Lanes.multiplyAdd(a0, x, w4)
            x = Lanes.load8(i + 5 * channels)
            a5 = Lanes.multiplyAdd(a5, x, w0); a4 = Lanes.multiplyAdd(a4, x, w1)
            a3 = Lanes.multiplyAdd(a3, x, w2); a2 = Lanes.multiplyAdd(a2, x, w3)
            a1 = Lanes.multiplyAdd(a1, x, w4)
            x = Lanes.load8(i + 6 * channels)
            a6 = Lanes.multiplyAdd(a6, x, w0); a5 = Lanes.multiplyAdd(a5, x, w1)
            a4 = Lanes.multiplyAdd(a4, x, w2); a3 = Lanes.multiplyAdd(a3, x, w3)
            a2 = Lanes.multiplyAdd(a2, x, w4)
            x = Lanes.load8(i + 7 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w0); a6 = Lanes.multiplyAdd(a6, x, w1)
            a5 = Lanes.multiplyAdd(a5, x, w2); a4 = Lanes.multiplyAdd(a4, x, w3)
            a3 = Lanes.multiplyAdd(a3, x, w4)
            x = Lanes.load8(i + 8 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w1); a6 = Lanes.multiplyAdd(a6, x, w2)
            a5 = Lanes.multiplyAdd(a5, x, w3); a4 = Lanes.multiplyAdd(a4, x, w4)
            x = Lanes.load8(i + 9 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w2); a6 = Lanes.multiplyAdd(a6, x, w3)
            a5 = Lanes.multiplyAdd(a5, x, w4)
            x = Lanes.load8(i + 10 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w3); a6 = Lanes.multiplyAdd(a6, x, w4)
            x = Lanes.load8(i + 11 * channels)
            a7 = Lanes.multiplyAdd(a7, x, w4)
        }
        storeEight(a0, a1, a2, a3, a4, a5, a6, a7, output, channels)
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
        // Four blocks of 16 channels together where there are four: four multiply-add
        // chains instead of one (a border pixel of a 5x5 pass is up to 25 dependent ones).
        while c + 64 <= range.upperBound {
            var a0 = Lanes.load16(bias + c), a1 = Lanes.load16(bias + c + 16)
            var a2 = Lanes.load16(bias + c + 32), a3 = Lanes.load16(bias + c + 48)
            for ky in 0..<k {
                guard let row = rows[ky] else { continue }
                let inRow = row + ix0 * channels + c
                let wRow = weights + ky * k * channels + c
                for kx in kx0..<kx1 {
                    let i = inRow + kx * channels, w = wRow + kx * channels
                    a0 = Lanes.multiplyAdd(a0, Lanes.load16(i), Lanes.load16(w))
                    a1 = Lanes.multiplyAdd(a1, Lanes.load16(i + 16), Lanes.load16(w + 16))
                    a2 = Lanes.multiplyAdd(a2, Lanes.load16(i + 32), Lanes.load16(w + 32))
                    a3 = Lanes.multiplyAdd(a3, Lanes.load16(i + 48), Lanes.load16(w + 48))
                }
            }
            Lanes.store16(Lanes.relu6(a0), out + c); Lanes.store16(Lanes.relu6(a1), out + c + 16)
            Lanes.store16(Lanes.relu6(a2), out + c + 32); Lanes.store16(Lanes.relu6(a3), out + c + 48)
            c += 64
        }
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
