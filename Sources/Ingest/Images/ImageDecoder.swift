import CJPEG
import CPNG
import Foundation
import TagganCore
import _JPEGShim

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) files into 8-bit RGB.
///
/// - JPEG: baseline and progressive; grayscale, RGB/YCbCr and CMYK/YCCK (Adobe's
///   inverted CMYK handled); EXIF orientation applied. Corrupt data, including what
///   libjpeg would only warn about (bad Huffman codes, premature end of file), is an
///   error rather than a grey-filled picture.
/// - PNG: 1-16 bits, gray, palette, alpha (composited onto white), interlaced, through
///   libpng's simplified API.
/// - Decode-to-size: given `targetShorterSide`, a JPEG is decoded at the smallest DCT
///   scale (1/2, 1/4, 1/8) that keeps its shorter side at or above the target, which is
///   several times faster for large photos; the caller then resizes with antialiasing.
/// - A pixel limit (`maxPixels`, default 50 megapixels) refuses decompression bombs
///   from the header, before any pixel buffer is allocated.
///
/// - Huffman decoding of single-scan baseline JPEGs (nearly every camera and web photo)
///   is taggan's own (Sources/_JPEGShim/jpeg_entropy.c), plugged into libjpeg in place of
///   its decoder: the same coefficients, so the same pixels to the bit, in less time
///   (it is most of a photo's decoding at 1/4 scale). Progressive, arithmetic-coded and
///   12-bit files keep libjpeg's. `TAGGAN_JPEG_ENTROPY=libjpeg` keeps libjpeg's for
///   every file (benchmarks compare the two).
///
/// The file type comes from the content (magic bytes), not the name.
public struct ImageDecoder: Sendable {
    public var maxPixels: Int
    /// Whose Huffman decoder decodes baseline JPEGs (the pixels are the same).
    public enum EntropyDecoder: String, Sendable { case taggan, libjpeg }
    public var entropyDecoder: EntropyDecoder

    public init(maxPixels: Int = 50_000_000, entropyDecoder: EntropyDecoder = ImageDecoder.defaultEntropyDecoder) {
        self.maxPixels = maxPixels
        self.entropyDecoder = entropyDecoder
    }

    /// taggan's, unless `TAGGAN_JPEG_ENTROPY=libjpeg`.
    public static let defaultEntropyDecoder: EntropyDecoder =
        ProcessInfo.processInfo.environment["TAGGAN_JPEG_ENTROPY"] == "libjpeg" ? .libjpeg : .taggan

    public enum Format: String, Sendable { case jpeg, png }

    /// What a file's header says, read without decoding pixels.
    public struct Header: Equatable, Sendable {
        public let format: Format
        public let width: Int
        public let height: Int
    }

    /// Why a file could not be decoded: a short reason for batch summaries ("truncated
    /// or corrupt", "not an image", ...) and the library's message.
    public struct DecodeError: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public let detail: String
        public var description: String { detail.isEmpty ? reason : "\(reason): \(detail)" }
    }

    /// A file that could not be read or decoded: its path, the reason and the detail,
    /// as fields (a batch reports the reason and the detail apart).
    public struct FileError: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let reason: String
        public let detail: String
        public var description: String { "\(path): " + (detail.isEmpty ? reason : "\(reason): \(detail)") }
        public init(path: String, reason: String, detail: String) { (self.path, self.reason, self.detail) = (path, reason, detail) }
    }

    /// The largest image file read (1 GiB): a 50-megapixel 16-bit RGBA PNG stored
    /// uncompressed is 400 MB; anything larger named .jpg is a video or a disk image.
    public static let maximumFileBytes = 1 << 30

    /// The bytes of the image file `url`, checked before they are all read, so that a
    /// video or disk image named .jpg costs a few bytes of reading, not its size in
    /// memory: a regular file (a FIFO would block, a device never end), not empty, at
    /// most `maximumFileBytes`, starting with a JPEG or PNG signature. Throws
    /// `DecodeError` with the reason a batch reports ("unreadable", "not a regular
    /// file", "empty file", "file too large", "not a JPEG or PNG image").
    public static func readFile(_ url: URL) throws -> Data {
        let descriptor = open(url.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw DecodeError(reason: "unreadable", detail: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var s = stat()
        guard fstat(descriptor, &s) == 0 else { throw DecodeError(reason: "unreadable", detail: String(cString: strerror(errno))) }
        guard (s.st_mode & S_IFMT) == S_IFREG else { throw DecodeError(reason: "not a regular file", detail: "") }
        guard s.st_size > 0 else { throw DecodeError(reason: "empty file", detail: "") }
        guard Int(s.st_size) <= maximumFileBytes else {
            throw DecodeError(reason: "file too large", detail: "\(s.st_size) bytes, above the \(maximumFileBytes >> 20) MiB an image file may have")
        }
        // Two reads in all (the signature, then the rest in one call), where FileHandle
        // read 4 KiB a call: 30,000 system calls for 200 photos.
        var data = Data(count: Int(s.st_size))
        let count = try data.withUnsafeMutableBytes { raw -> Int in
            func fill(_ range: Range<Int>) throws -> Int {
                var offset = range.lowerBound
                while offset < range.upperBound {
                    let n = pread(descriptor, raw.baseAddress! + offset, range.upperBound - offset, off_t(offset))
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { throw DecodeError(reason: "unreadable", detail: String(cString: strerror(errno))) }
                    if n == 0 { break }   // the file shrank since fstat
                    offset += n
                }
                return offset
            }
            let head = try fill(0 ..< min(8, raw.count))
            guard format(of: Data(bytes: raw.baseAddress!, count: head)) != nil else {
                throw DecodeError(reason: "not a JPEG or PNG image", detail: "unrecognised leading bytes")
            }
            return head < min(8, raw.count) ? head : try fill(head ..< raw.count)
        }
        if count < data.count { data.removeSubrange(count...) }
        return data
    }

    public static func format(of data: Data) -> Format? {
        if data.count >= 3, data[data.startIndex] == 0xFF, data[data.startIndex + 1] == 0xD8,
           data[data.startIndex + 2] == 0xFF { return .jpeg }
        if data.count >= 8, Array(data.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }

    public func decode(contentsOf url: URL, targetShorterSide: Int? = nil) throws -> RGBImage {
        do {
            return try decode(Self.readFile(url), targetShorterSide: targetShorterSide)
        } catch let error as DecodeError {
            throw FileError(path: url.path, reason: error.reason, detail: error.detail)
        }
    }

    /// Decodes `data`; throws `DecodeError`.
    public func decode(_ data: Data, targetShorterSide: Int? = nil) throws -> RGBImage {
        if data.isEmpty { throw DecodeError(reason: "empty file", detail: "") }
        switch Self.format(of: data) {
        case .jpeg: return try decodeJPEG(data, targetShorterSide: targetShorterSide)
        case .png: return try decodePNG(data)
        case nil: throw DecodeError(reason: "not a JPEG or PNG image", detail: "unrecognised leading bytes")
        }
    }

    /// Reads only the header: format and full pixel size.
    public func header(of data: Data) throws -> Header {
        switch Self.format(of: data) {
        case .jpeg:
            return try data.withUnsafeBytes { raw in
                let jpeg = try openJPEG(raw)
                defer { taggan_jpeg_close(jpeg) }
                var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0, p: Int32 = 0, a: Int32 = 0
                taggan_jpeg_header(jpeg, &w, &h, &c, &p, &a)
                return Header(format: .jpeg, width: Int(w), height: Int(h))
            }
        case .png:
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            let ok = data.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
            guard ok != 0 else { throw DecodeError(reason: "truncated or corrupt PNG", detail: Self.message(of: image)) }
            return Header(format: .png, width: Int(image.width), height: Int(image.height))
        case nil:
            throw DecodeError(reason: data.isEmpty ? "empty file" : "not a JPEG or PNG image", detail: "")
        }
    }

    private func checkSize(_ width: Int, _ height: Int) throws {
        guard width > 0, height > 0 else {
            throw DecodeError(reason: "invalid dimensions", detail: "\(width)x\(height)")
        }
        if width.multipliedReportingOverflow(by: height).overflow || width * height > maxPixels {
            throw DecodeError(
                reason: "too many pixels",
                detail: "\(width)x\(height) is above the limit of \(maxPixels / 1_000_000) megapixels (--max-pixels)")
        }
    }

    // MARK: JPEG

    private func openJPEG(_ raw: UnsafeRawBufferPointer) throws -> OpaquePointer {
        var error = [CChar](repeating: 0, count: 256)
        guard let base = raw.baseAddress,
              let jpeg = taggan_jpeg_open(base.assumingMemoryBound(to: UInt8.self), raw.count, &error, error.count)
        else {
            throw DecodeError(reason: "truncated or corrupt JPEG", detail: Self.string(error))
        }
        return jpeg
    }

    /// Whether taggan's Huffman decoder (not libjpeg's) decodes this JPEG at this scale.
    func decodesWithOwnHuffman(_ data: Data, scaleDenominator: Int = 1) throws -> Bool {
        try data.withUnsafeBytes { raw in
            let jpeg = try openJPEG(raw)
            defer { taggan_jpeg_close(jpeg) }
            taggan_jpeg_keep_libjpeg_entropy(jpeg, entropyDecoder == .libjpeg ? 1 : 0)
            var w: Int32 = 0, h: Int32 = 0, space: Int32 = 0
            guard taggan_jpeg_start(jpeg, Int32(scaleDenominator), &w, &h, &space) == 0 else {
                throw DecodeError(reason: "truncated or corrupt JPEG", detail: String(cString: taggan_jpeg_error(jpeg)))
            }
            return taggan_jpeg_own_entropy(jpeg) != 0
        }
    }

    private func decodeJPEG(_ data: Data, targetShorterSide: Int?) throws -> RGBImage {
        var decoded: RGBImage = try data.withUnsafeBytes { raw in
            let jpeg = try openJPEG(raw)
            defer { taggan_jpeg_close(jpeg) }
            var w: Int32 = 0, h: Int32 = 0, components: Int32 = 0, progressive: Int32 = 0, adobe: Int32 = 0
            taggan_jpeg_header(jpeg, &w, &h, &components, &progressive, &adobe)
            try checkSize(Int(w), Int(h))
            var denominator: Int32 = 1
            if let target = targetShorterSide, target > 0 {
                let shorter = Int(min(w, h))
                for d in [8, 4, 2] where (shorter + d - 1) / d >= target {
                    denominator = Int32(d)
                    break
                }
            }
            var outW: Int32 = 0, outH: Int32 = 0, space: Int32 = 0
            taggan_jpeg_keep_libjpeg_entropy(jpeg, entropyDecoder == .libjpeg ? 1 : 0)
            guard taggan_jpeg_start(jpeg, denominator, &outW, &outH, &space) == 0 else {
                throw DecodeError(reason: "truncated or corrupt JPEG", detail: String(cString: taggan_jpeg_error(jpeg)))
            }
            let channels = space == Int32(TAGGAN_JPEG_GRAY) ? 1 : (space == Int32(TAGGAN_JPEG_CMYK) ? 4 : 3)
            let width = Int(outW), height = Int(outH)
            // Every byte is written by the decoder (or the buffer is discarded on error).
            var status: Int32 = 0
            let buffer = [UInt8](unsafeUninitializedCapacity: width * height * channels) { out, initialised in
                status = taggan_jpeg_read(jpeg, out.baseAddress, width * channels)
                initialised = width * height * channels
            }
            guard status == 0 else {
                throw DecodeError(reason: "truncated or corrupt JPEG", detail: String(cString: taggan_jpeg_error(jpeg)))
            }
            switch channels {
            case 3: return RGBImage(width: width, height: height, pixels: buffer)
            case 1: return Self.expandGray(buffer, width: width, height: height)
            default: return Self.convertCMYK(buffer, width: width, height: height, inverted: adobe != 0)
            }
        }
        let orientation = ExifOrientation.read(fromJPEG: data)
        if orientation != 1 { decoded = decoded.oriented(exif: orientation) }
        return decoded
    }

    static func expandGray(_ gray: [UInt8], width: Int, height: Int) -> RGBImage {
        var rgb = [UInt8](repeating: 0, count: gray.count * 3)
        for i in gray.indices {
            rgb[3 * i] = gray[i]; rgb[3 * i + 1] = gray[i]; rgb[3 * i + 2] = gray[i]
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }

    /// CMYK to RGB: R = (1 - C)(1 - K) with values in [0, 1]. Adobe applications store
    /// CMYK inverted (0 = full ink), where the same formula reads R = C K / 255.
    static func convertCMYK(_ cmyk: [UInt8], width: Int, height: Int, inverted: Bool) -> RGBImage {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for p in 0 ..< width * height {
            var c = Int(cmyk[4 * p]), m = Int(cmyk[4 * p + 1]), y = Int(cmyk[4 * p + 2]), k = Int(cmyk[4 * p + 3])
            if !inverted { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k }
            rgb[3 * p] = UInt8((c * k + 127) / 255)
            rgb[3 * p + 1] = UInt8((m * k + 127) / 255)
            rgb[3 * p + 2] = UInt8((y * k + 127) / 255)
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }

    // MARK: PNG

    private func decodePNG(_ data: Data) throws -> RGBImage {
        // libpng keeps a pointer to the bytes between begin and finish: one closure.
        try data.withUnsafeBytes { raw in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                throw DecodeError(reason: "truncated or corrupt PNG", detail: Self.message(of: image))
            }
            try checkSize(Int(image.width), Int(image.height))
            image.format = UInt32(PNG_FORMAT_RGB)
            // A 16-bit PNG without gAMA or sRGB is sRGB-encoded like an 8-bit one (what
            // every viewer shows); libpng's simplified API would take it for linear light
            // and brighten it (mid-grey 128 x 257 came out 188).
            image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
            let width = Int(image.width), height = Int(image.height)
            var pixels = [UInt8](repeating: 255, count: width * height * 3)
            // Alpha is composited onto this background because the output format has none.
            var white = png_color(red: 255, green: 255, blue: 255)
            let finished = pixels.withUnsafeMutableBytes {
                png_image_finish_read(&image, &white, $0.baseAddress, 0, nil)
            }
            guard finished != 0 else {
                throw DecodeError(reason: "truncated or corrupt PNG", detail: Self.message(of: image))
            }
            return RGBImage(width: width, height: height, pixels: pixels)
        }
    }

    private static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
