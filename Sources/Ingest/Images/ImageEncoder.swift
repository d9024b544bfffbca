import CPNG
import Foundation
import TagganCore
import _JPEGShim

/// Encodes RGB images as PNG (libpng's simplified API), for report thumbnails, and as
/// JPEG (libjpeg) in any layout, for the tests of the JPEG decoders.
public enum ImageEncoder {
    /// JPEG encoding options: quality 1-100, luma sampling factors (chroma 1x1: 2x2 is
    /// 4:2:0, 2x1 4:2:2, 1x1 4:4:4), a restart interval in MCUs (0 none), progressive,
    /// Huffman tables optimised for the image (longer codes) or the standard ones, gray.
    public struct JPEGOptions: Sendable, CustomStringConvertible {
        public var quality = 90, hSampling = 2, vSampling = 2, restartInterval = 0
        public var progressive = false, optimized = false, gray = false
        public init() {}
        public var description: String {
            let layout = gray ? "gray" : "\(hSampling)x\(vSampling)"
            var words = ["q\(quality)", layout, "rst\(restartInterval)"]
            if progressive { words.append("progressive") }
            if optimized { words.append("optimized") }
            return words.joined(separator: " ")
        }
    }

    public static func jpeg(_ image: RGBImage, _ options: JPEGOptions = JPEGOptions()) throws -> Data {
        var source = image.pixels
        if options.gray {
            source = (0..<image.width * image.height).map { p -> UInt8 in
                let r = Int(image.pixels[3 * p]), g = Int(image.pixels[3 * p + 1]), b = Int(image.pixels[3 * p + 2])
                return UInt8((r * 77 + g * 150 + b * 29) >> 8)
            }
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = source.withUnsafeBufferPointer {
            taggan_jpeg_encode($0.baseAddress, Int32(image.width), Int32(image.height), options.gray ? 1 : 0,
                               Int32(options.quality), Int32(options.hSampling), Int32(options.vSampling),
                               Int32(options.restartInterval), options.progressive ? 1 : 0, options.optimized ? 1 : 0,
                               &out, &size)
        }
        guard status == 0, let out else { throw TagganError.failure("JPEG encoding failed (\(options))") }
        defer { taggan_jpeg_free(out) }
        return Data(bytes: out, count: size)
    }

    public static func png(_ image: RGBImage) throws -> Data {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        var size = 0
        // First call measures, second writes.
        let measured = image.pixels.withUnsafeBytes {
            png_image_write_to_memory(&png, nil, &size, 0, $0.baseAddress, 0, nil)
        }
        guard measured != 0, size > 0 else { throw TagganError.failure("PNG encoding failed") }
        var output = Data(count: size)
        let written = output.withUnsafeMutableBytes { out in
            image.pixels.withUnsafeBytes { png_image_write_to_memory(&png, out.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        png_image_free(&png)
        guard written != 0 else { throw TagganError.failure("PNG encoding failed") }
        return output.prefix(size)
    }

    /// A `data:` URI of the image scaled so its longer side is `side` pixels.
    public static func thumbnailDataURI(of url: URL, side: Int = 160, decoder: ImageDecoder = ImageDecoder()) throws -> String {
        let image = try decoder.decode(contentsOf: url, targetShorterSide: side)
        let scale = Double(side) / Double(max(image.width, image.height))
        let small = scale < 1
            ? image.resized(width: max(1, Int((Double(image.width) * scale).rounded())),
                            height: max(1, Int((Double(image.height) * scale).rounded())))
            : image
        return "data:image/png;base64," + (try png(small)).base64EncodedString()
    }
}
