/// A decoded picture: 8-bit RGB, row-major, three bytes per pixel, no padding.
/// The plain type that passes between Ingest (which decodes) and Features (which
/// embeds), so neither imports the other.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// width * height * 3 bytes: R, G, B of the top-left pixel first.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "\(pixels.count) bytes for a \(width)x\(height) RGB image")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int, filledWith value: UInt8 = 0) {
        self.init(width: width, height: height,
                  pixels: [UInt8](repeating: value, count: width * height * 3))
    }

    /// The pixel at (x, y) as (r, g, b).
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

extension RGBImage {
    /// Resamples to `newWidth` x `newHeight` with an antialiased triangle (bilinear)
    /// filter: when shrinking by a factor s the filter's support widens to s source
    /// pixels, so every source pixel contributes (no aliasing); when enlarging it is
    /// plain bilinear interpolation. Pixel centres are aligned
    /// (x_src = (x_dst + 0.5) * s - 0.5), as PIL and torchvision's antialiased resize do.
    ///
    /// Separable, in Float: columns first, as whole rows scaled and added with SIMD
    /// (`VectorKernels.axpy`), then rows, on the already shorter image — the order that
    /// leaves the least scalar work when shrinking.
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "resize to \(newWidth)x\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        let vertical = FilterTaps(source: height, destination: newHeight)
        let horizontal = FilterTaps(source: width, destination: newWidth)
        let rowLength = width * 3
        // Source as Float, once.
        let source = pixels.withUnsafeBufferPointer { bytes in
            [Float](unsafeUninitializedCapacity: bytes.count) { out, initialised in
                for i in 0..<bytes.count { out[i] = Float(bytes[i]) }
                initialised = bytes.count
            }
        }
        // Vertical pass: newHeight rows of the original width.
        var middle = [Float](repeating: 0, count: newHeight * rowLength)
        source.withUnsafeBufferPointer { src in
            middle.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                for y in 0..<newHeight {
                    let first = vertical.first[y]
                    for k in 0..<vertical.taps {
                        let w = vertical.weights[y * vertical.taps + k]
                        if w != 0 {
                            VectorKernels.axpy(w, s + (first + k) * rowLength, d + y * rowLength, count: rowLength)
                        }
                    }
                }
            }
        }
        // Horizontal pass, rounding to bytes.
        let result = middle.withUnsafeBufferPointer { src in
            [UInt8](unsafeUninitializedCapacity: newHeight * newWidth * 3) { dst, initialised in
                initialised = newHeight * newWidth * 3
                horizontal.weights.withUnsafeBufferPointer { weights in
                    let taps = horizontal.taps
                    for y in 0..<newHeight {
                        let row = src.baseAddress! + y * rowLength
                        let out = y * newWidth * 3
                        for x in 0..<newWidth {
                            let base = row + horizontal.first[x] * 3
                            var r: Float = 0, g: Float = 0, b: Float = 0
                            for k in 0..<taps {
                                let w = weights[x * taps + k]
                                r += w * base[3 * k]; g += w * base[3 * k + 1]; b += w * base[3 * k + 2]
                            }
                            dst[out + 3 * x] = Self.byte(r)
                            dst[out + 3 * x + 1] = Self.byte(g)
                            dst[out + 3 * x + 2] = Self.byte(b)
                        }
                    }
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: result)
    }

    @inline(__always)
    private static func byte(_ value: Float) -> UInt8 {
        let rounded = (value + 0.5).rounded(.down)
        return rounded <= 0 ? 0 : (rounded >= 255 ? 255 : UInt8(rounded))
    }

    /// Scales so the shorter side becomes `side` (aspect ratio kept, rounded).
    public func resized(shorterSide side: Int) -> RGBImage {
        if width <= height {
            return resized(width: side, height: max(1, Int((Double(height) * Double(side) / Double(width)).rounded())))
        }
        return resized(width: max(1, Int((Double(width) * Double(side) / Double(height)).rounded())), height: side)
    }

    /// The centred `cropWidth` x `cropHeight` window (clamped to the image).
    public func centerCropped(width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        let w = min(cropWidth, width), h = min(cropHeight, height)
        let left = (width - w) / 2, top = (height - h) / 2
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let from = ((top + y) * width + left) * 3
            out.replaceSubrange(y * w * 3 ..< (y + 1) * w * 3, with: pixels[from ..< from + w * 3])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

/// The triangle filter's taps for one resampled axis: for destination index d, the
/// weights `weights[d * taps ..< (d + 1) * taps]` apply to source indices `first[d]...`
/// (normalised to sum 1; zero-padded to a fixed count so loops have no ragged ends).
struct FilterTaps {
    let taps: Int
    let first: [Int]
    let weights: [Float]

    init(source: Int, destination: Int) {
        let scale = Double(source) / Double(destination)
        let support = max(scale, 1.0)   // half-width: 1 source pixel, widened when shrinking
        var rows: [(Int, [Float])] = []
        for d in 0..<destination {
            let centre = (Double(d) + 0.5) * scale
            let lo = max(0, Int((centre - support).rounded(.down)))
            let hi = min(source - 1, Int((centre + support).rounded(.up)))
            var w: [Double] = []
            for s in lo...max(lo, hi) { w.append(max(0, 1 - abs((Double(s) + 0.5 - centre) / support))) }
            let total = w.reduce(0, +)
            if total <= 0 {
                rows.append((min(max(Int(centre), 0), source - 1), [1]))
            } else {
                // Trim zero weights at both ends so the tap count stays small.
                var start = 0, end = w.count
                while start < end - 1, w[start] == 0 { start += 1 }
                while end > start + 1, w[end - 1] == 0 { end -= 1 }
                rows.append((lo + start, w[start..<end].map { Float($0 / total) }))
            }
        }
        taps = rows.map { $0.1.count }.max() ?? 1
        var first: [Int] = [], weights: [Float] = []
        for (start, w) in rows {
            // Keep the window inside the source: shift it left if it would overrun.
            let shifted = min(start, max(0, source - taps))
            let pad = start - shifted
            first.append(shifted)
            var row = [Float](repeating: 0, count: taps)
            for (k, value) in w.enumerated() where pad + k < taps { row[pad + k] = value }
            weights += row
        }
        self.first = first
        self.weights = weights
    }
}
