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
    /// plain bilinear interpolation. Separable: rows first, then columns, in Float.
    /// Pixel centres are aligned (x_src = (x_dst + 0.5) * s - 0.5), as PIL and
    /// torchvision's antialiased resize do.
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "resize to \(newWidth)x\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        let horizontal = Self.filterWeights(source: width, destination: newWidth)
        let vertical = Self.filterWeights(source: height, destination: newHeight)
        // Horizontal pass: height x newWidth x 3 floats.
        var middle = [Float](repeating: 0, count: height * newWidth * 3)
        pixels.withUnsafeBufferPointer { src in
            middle.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let row = y * width * 3, out = y * newWidth * 3
                    for x in 0..<newWidth {
                        let (start, weights) = horizontal[x]
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for (k, w) in weights.enumerated() {
                            let i = row + (start + k) * 3
                            r += w * Float(src[i]); g += w * Float(src[i + 1]); b += w * Float(src[i + 2])
                        }
                        dst[out + x * 3] = r; dst[out + x * 3 + 1] = g; dst[out + x * 3 + 2] = b
                    }
                }
            }
        }
        // Vertical pass, rounding to bytes.
        var result = [UInt8](repeating: 0, count: newHeight * newWidth * 3)
        middle.withUnsafeBufferPointer { src in
            result.withUnsafeMutableBufferPointer { dst in
                let stride = newWidth * 3
                for y in 0..<newHeight {
                    let (start, weights) = vertical[y]
                    let out = y * stride
                    for i in 0..<stride {
                        var v: Float = 0
                        for (k, w) in weights.enumerated() { v += w * src[(start + k) * stride + i] }
                        dst[out + i] = UInt8(max(0, min(255, v.rounded())))
                    }
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: result)
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

    /// For each destination index: the first source index and the normalised weights.
    static func filterWeights(source: Int, destination: Int) -> [(Int, [Float])] {
        let scale = Double(source) / Double(destination)
        let support = max(scale, 1.0)          // triangle of half-width 1 source pixel, widened when shrinking
        return (0..<destination).map { d in
            let centre = (Double(d) + 0.5) * scale
            let first = max(0, Int((centre - support).rounded(.down)))
            let last = min(source - 1, Int((centre + support).rounded(.up)))
            var weights: [Float] = []
            var total = 0.0
            for s in first...last {
                let w = max(0, 1 - abs((Double(s) + 0.5 - centre) / support))
                weights.append(Float(w))
                total += w
            }
            if total <= 0 {   // degenerate (source of 1 pixel): take the nearest
                return (min(max(Int(centre), 0), source - 1), [1])
            }
            return (first, weights.map { $0 / Float(total) })
        }
    }
}
