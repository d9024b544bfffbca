import Foundation
import Testing
@testable import TagganCore

/// The antialiased resize against the filter written out as plain scalar sums: the
/// vectorised passes (whole rows for the vertical one, a pixel's three channels in one
/// vector for the horizontal one, branch-free rounding) must give the same bytes.
@Suite("Resampling: the vectorised passes give the scalar filter's bytes")
struct ResampleTests {
    /// The triangle filter of `RGBImage.resized` as scalar loops in the same order:
    /// vertical taps first (skipping zero weights), then horizontal, each sum from 0.
    static func reference(_ image: RGBImage, width newWidth: Int, height newHeight: Int) -> [UInt8] {
        let vertical = FilterTaps(source: image.height, destination: newHeight)
        let horizontal = FilterTaps(source: image.width, destination: newWidth)
        let rowLength = image.width * 3
        var middle = [Float](repeating: 0, count: newHeight * rowLength)
        for y in 0..<newHeight {
            for k in 0..<vertical.taps {
                let w = vertical.weights[y * vertical.taps + k]
                guard w != 0 else { continue }
                let source = (vertical.first[y] + k) * rowLength
                for i in 0..<rowLength { middle[y * rowLength + i] += w * Float(image.pixels[source + i]) }
            }
        }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for y in 0..<newHeight {
            for x in 0..<newWidth {
                for channel in 0..<3 {
                    var sum: Float = 0
                    for k in 0..<horizontal.taps {
                        sum += horizontal.weights[x * horizontal.taps + k]
                            * middle[y * rowLength + (horizontal.first[x] + k) * 3 + channel]
                    }
                    out[(y * newWidth + x) * 3 + channel] = RGBImage.byte(sum)
                }
            }
        }
        return out
    }

    static func noise(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var random = SeededRandom(seed: seed)
        return RGBImage(width: width, height: height, pixels: (0 ..< width * height * 3).map { _ in
            UInt8(truncatingIfNeeded: random.next())
        })
    }

    @Test("shrinking, enlarging and mixed sizes: the same bytes as the scalar filter", arguments: [
        (500, 333, 340, 256), (333, 500, 256, 384), (64, 48, 224, 168), (97, 31, 13, 7), (5, 5, 1, 1), (2, 9, 7, 3),
    ])
    func vectorisedMatchesScalar(_ size: (Int, Int, Int, Int)) {
        let image = Self.noise(width: size.0, height: size.1, seed: UInt64(size.0 * 1000 + size.1))
        let resized = image.resized(width: size.2, height: size.3)
        #expect(resized.width == size.2 && resized.height == size.3)
        #expect(resized.pixels == Self.reference(image, width: size.2, height: size.3))
    }

    @Test("branch-free rounding gives byte()'s value at every half, below 0 and above 255")
    func roundingMatchesScalar() {
        var values: [Float] = [-1000, -0.5, -0.49, -0, 0, 0.49, 0.5, 0.51, 1.5, 2.5, 127.5, 254.49, 254.5, 254.51, 255, 255.4, 255.5, 300, 1e9]
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 { values.append(Float(random.next() % 300_000) / 1000 - 20) }
        for v in values {
            let lanes = RGBImage.bytes(SIMD4(v, v + 0.25, -v, v * 0.5))
            for (lane, x) in [v, v + 0.25, -v, v * 0.5].enumerated() {
                #expect(UInt8(truncatingIfNeeded: Int32(lanes[lane])) == RGBImage.byte(x), "\(x)")
            }
        }
    }
}
