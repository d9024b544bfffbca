/// The element-wise and depthwise kernels of the conv net, on NHWC activations: one
/// image is a row-major [pixels, channels] matrix, so a 1x1 convolution is one sgemm
/// ([pixels, cin] x [cin, cout]) and the depthwise kernels vectorise over channels,
/// which are contiguous. (NCHW would make the 1x1 convolutions [cout, cin] x
/// [cin, pixels] products just as well; NHWC was chosen because the depthwise pass then
/// reads whole SIMD vectors of channels per tap, and the decoded RGB bytes are NHWC
/// already. NCHW was not built to compare. Profile (perf, lite0, one thread): sgemm
/// and its packing ~51%, depthwise ~18%, bias/ReLU6 passes ~2%.)
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

    @inline(__always) static func relu6(_ v: Float) -> Float { min(max(v, 0), 6) }

    /// x[r, c] = relu6(x[r, c] + bias[c]) (relu6 skipped when `activate` is false), and
    /// x[r, c] += residual[r, c] when a residual is given (after the bias, no activation:
    /// MBConv adds the skip connection to the linear projection).
    static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, channels: Int,
                        bias: UnsafePointer<Float>, activate: Bool,
                        residual: UnsafePointer<Float>? = nil) {
        for r in 0..<rows {
            let row = x + r * channels
            let skip = residual.map { $0 + r * channels }
            var c = 0
            while c + 16 <= channels {
                var v = load16(row + c) + load16(bias + c)
                if activate { v = relu6(v) }
                if let skip { v = v + load16(skip + c) }
                store16(v, row + c)
                c += 16
            }
            while c + 8 <= channels {
                var v = load8(row + c) + load8(bias + c)
                if activate { v = relu6(v) }
                if let skip { v = v + load8(skip + c) }
                store8(v, row + c)
                c += 8
            }
            while c < channels {
                var v = row[c] + bias[c]
                if activate { v = relu6(v) }
                if let skip { v += skip[c] }
                row[c] = v
                c += 1
            }
        }
    }

    /// Depthwise k x k convolution with TF "same" padding, folded bias and ReLU6.
    ///
    ///     out[oy, ox, c] = relu6(bias[c] + sum_{ky, kx} in[oy*s + ky - top, ox*s + kx - left, c] * w[ky, kx, c])
    ///
    /// where taps outside the input count as zero. `weights` is [k, k, channels].
    static func depthwise(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                          weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                          kernel k: Int, stride s: Int, padTop: Int, padLeft: Int,
                          output: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int) {
        for oy in 0..<outHeight {
            let iy0 = oy * s - padTop
            let ky0 = max(0, -iy0), ky1 = min(k, height - iy0)
            for ox in 0..<outWidth {
                let ix0 = ox * s - padLeft
                let kx0 = max(0, -ix0), kx1 = min(k, width - ix0)
                let out = output + (oy * outWidth + ox) * channels
                let base = input + (iy0 * width + ix0) * channels
                var c = 0
                while c + 32 <= channels {
                    var a0 = load16(bias + c), a1 = load16(bias + c + 16)
                    for ky in ky0..<ky1 {
                        let inRow = base + ky * width * channels + c
                        let wRow = weights + ky * k * channels + c
                        for kx in kx0..<kx1 {
                            let i = inRow + kx * channels, w = wRow + kx * channels
                            a0 = a0 + load16(i) * load16(w)
                            a1 = a1 + load16(i + 16) * load16(w + 16)
                        }
                    }
                    store16(relu6(a0), out + c)
                    store16(relu6(a1), out + c + 16)
                    c += 32
                }
                while c + 16 <= channels {
                    var a = load16(bias + c)
                    for ky in ky0..<ky1 {
                        let inRow = base + ky * width * channels + c
                        let wRow = weights + ky * k * channels + c
                        for kx in kx0..<kx1 { a = a + load16(inRow + kx * channels) * load16(wRow + kx * channels) }
                    }
                    store16(relu6(a), out + c)
                    c += 16
                }
                while c + 8 <= channels {
                    var a = load8(bias + c)
                    for ky in ky0..<ky1 {
                        let inRow = base + ky * width * channels + c
                        let wRow = weights + ky * k * channels + c
                        for kx in kx0..<kx1 { a = a + load8(inRow + kx * channels) * load8(wRow + kx * channels) }
                    }
                    store8(relu6(a), out + c)
                    c += 8
                }
                while c < channels {
                    var a = bias[c]
                    for ky in ky0..<ky1 {
                        for kx in kx0..<kx1 { a += base[(ky * width + kx) * channels + c] * weights[(ky * k + kx) * channels + c] }
                    }
                    out[c] = relu6(a)
                    c += 1
                }
            }
        }
    }

    /// im2col for the stem: row (oy, ox) holds the k x k x channels patch in (ky, kx, c)
    /// order, zeros where the patch leaves the image (TF "same" padding).
    static func patches(input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                        kernel k: Int, stride s: Int, padTop: Int, padLeft: Int,
                        output: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int) {
        let rowLength = k * k * channels
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                let out = output + (oy * outWidth + ox) * rowLength
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
