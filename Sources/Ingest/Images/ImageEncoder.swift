import CPNG
import Foundation
import TagganCore

/// Encodes RGB images as PNG (libpng's simplified API), for report thumbnails.
public enum ImageEncoder {
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
