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
        return resampled(width: newWidth, height: newHeight, columns: 0 ..< newWidth, rows: 0 ..< newHeight)
    }

    /// The window `columns` x `rows` of `resized(width: newWidth, height: newHeight)`,
    /// computed alone: byte for byte the pixels the whole resize gives there (each output
    /// value is the same sums of the same products in the same order; only the rows and
    /// columns nobody reads are skipped), for the work of the window and the source
    /// pixels under it.
    func resampled(width newWidth: Int, height newHeight: Int, columns: Range<Int>, rows: Range<Int>) -> RGBImage {
        precondition(!columns.isEmpty && !rows.isEmpty && columns.upperBound <= newWidth && rows.upperBound <= newHeight && columns.lowerBound >= 0 && rows.lowerBound >= 0,
                     "window \(columns) x \(rows) of a \(newWidth)x\(newHeight) resize")
        let vertical = FilterTaps(source: height, destination: newHeight)
        let horizontal = FilterTaps(source: width, destination: newWidth)
        // The source rows and the span of source values (3 per pixel) the window reads.
        let sourceRows = rows.map { vertical.first[$0] }.min()! ..< min(height, rows.map { vertical.first[$0] }.max()! + vertical.taps)
        let span = 3 * columns.map { horizontal.first[$0] }.min()! ..< 3 * min(width, columns.map { horizontal.first[$0] }.max()! + horizontal.taps)
        let rowLength = width * 3, spanLength = span.count
        // Those source values as Float, once.
        let source = pixels.withUnsafeBufferPointer { bytes in
            [Float](unsafeUninitializedCapacity: sourceRows.count * spanLength) { out, initialised in
                for (r, y) in sourceRows.enumerated() {
                    let from = y * rowLength + span.lowerBound
                    for i in 0..<spanLength { out[r * spanLength + i] = Float(bytes[from + i]) }
                }
                initialised = sourceRows.count * spanLength
            }
        }
        // Vertical pass: the window's rows, over the span.
        // (One float more than the rows: the horizontal pass reads pixels as 4-lane vectors.)
        var middle = [Float](repeating: 0, count: rows.count * spanLength + 1)
        source.withUnsafeBufferPointer { src in
            middle.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                for (r, y) in rows.enumerated() {
                    let first = vertical.first[y] - sourceRows.lowerBound
                    for k in 0..<vertical.taps {
                        let w = vertical.weights[y * vertical.taps + k]
                        if w != 0 {
                            VectorKernels.axpy(w, s + (first + k) * spanLength, d + r * spanLength, count: spanLength)
                        }
                    }
                }
            }
        }
        // Horizontal pass: the window's columns, rounding to bytes.
        let outWidth = columns.count
        let result = middle.withUnsafeBufferPointer { src in
            [UInt8](unsafeUninitializedCapacity: rows.count * outWidth * 3) { dst, initialised in
                initialised = rows.count * outWidth * 3
                horizontal.weights.withUnsafeBufferPointer { weights in
                    let taps = horizontal.taps
                    for r in 0..<rows.count {
                        let row = src.baseAddress! + r * spanLength
                        let out = r * outWidth * 3
                        for (c, x) in columns.enumerated() {
                            let base = row + (horizontal.first[x] * 3 - span.lowerBound)
                            // Red, green and blue in three lanes of one vector (the fourth
                            // is the next pixel's red, unused): per channel the same
                            // products added in the same order as three scalar sums, so
                            // the same bytes, for a third of the instructions.
                            var sum = SIMD4<Float>()
                            for k in 0..<taps {
                                let pixel = UnsafeRawPointer(base + 3 * k).loadUnaligned(as: SIMD4<Float>.self)
                                sum = sum + SIMD4(repeating: weights[x * taps + k]) * pixel
                            }
                            let bytes = Self.bytes(sum)
                            dst[out + 3 * c] = UInt8(truncatingIfNeeded: Int32(bytes.x))
                            dst[out + 3 * c + 1] = UInt8(truncatingIfNeeded: Int32(bytes.y))
                            dst[out + 3 * c + 2] = UInt8(truncatingIfNeeded: Int32(bytes.z))
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: result)
    }

    @inline(__always)
    static func byte(_ value: Float) -> UInt8 {
        let rounded = (value + 0.5).rounded(.down)
        return rounded <= 0 ? 0 : (rounded >= 255 ? 255 : UInt8(rounded))
    }

    /// `byte` of each lane, as a whole number in 0...255 still in a Float lane, without
    /// branches: rounding down after adding a half, then clamping, the same values as
    /// `byte` for every finite input. (Converted to integers lane by lane by the caller:
    /// the standard library's vector Float -> Int32 conversion is a generic per-lane loop
    /// that took longer than the whole resampling.)
    @inline(__always)
    static func bytes(_ values: SIMD4<Float>) -> SIMD4<Float> {
        pointwiseMin(pointwiseMax((values + 0.5).rounded(.down), SIMD4(repeating: 0)), SIMD4(repeating: 255))
    }

    /// Scales so the shorter side becomes `side` (aspect ratio kept, rounded).
    public func resized(shorterSide side: Int) -> RGBImage {
        let (w, h) = sizeResized(shorterSide: side)
        return resized(width: w, height: h)
    }

    /// The size `resized(shorterSide:)` gives.
    func sizeResized(shorterSide side: Int) -> (width: Int, height: Int) {
        if width <= height { return (side, max(1, Int((Double(height) * Double(side) / Double(width)).rounded()))) }
        return (max(1, Int((Double(width) * Double(side) / Double(height)).rounded())), side)
    }

    /// `resized(shorterSide: side).centerCropped(width: cropWidth, height: cropHeight)`, byte
    /// for byte, computing only the crop (`resampled`): resizing a 4:3 picture to a shorter
    /// side of 256 and keeping the centre 224 x 224 throws away half the pixels it made.
    public func resizedCentreCrop(shorterSide side: Int, width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        let (w, h) = sizeResized(shorterSide: side)
        let cw = min(cropWidth, w), ch = min(cropHeight, h)
        guard cw > 0, ch > 0 else { return resized(width: w, height: h).centerCropped(width: cropWidth, height: cropHeight) }
        let left = (w - cw) / 2, top = (h - ch) / 2
        if w == width && h == height { return centerCropped(width: cropWidth, height: cropHeight) }
        return resampled(width: w, height: h, columns: left ..< left + cw, rows: top ..< top + ch)
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
