import CZlib
import Foundation
import TagganCore

/// Reads metadata segments without decoding pixels: EXIF orientation and XMP packets
/// embedded in JPEG (APP1) and PNG (iTXt `XML:com.adobe.xmp`). Every length is checked
/// against the bytes present, so truncated or hostile files give nothing, not a crash.
public enum ImageMetadata {
    static let xmpSignature = Array("http://ns.adobe.com/xap/1.0/\0".utf8)
    static let exifSignature = Array("Exif\0\0".utf8)

    /// The APP segments of a JPEG before its image data: (marker, payload).
    static func jpegSegments(_ data: Data) -> [(UInt8, Data)] {
        let bytes = [UInt8](data.prefix(1 << 20))   // metadata lives near the start
        var segments: [(UInt8, Data)] = []
        var i = 2
        while i + 4 <= bytes.count {
            guard bytes[i] == 0xFF else { break }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }                 // fill byte
            if marker == 0xD8 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { break }          // start of scan / end
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 2, i + 2 + length <= bytes.count else { break }
            if (0xE0...0xEF).contains(marker) {
                segments.append((marker, Data(bytes[(i + 4) ..< (i + 2 + length)])))
            }
            i += 2 + length
        }
        return segments
    }

    /// The XMP packet of a JPEG or PNG file, if it has one.
    public static func embeddedXMP(in data: Data) -> Data? {
        switch ImageDecoder.format(of: data) {
        case .jpeg:
            for (marker, payload) in jpegSegments(data) where marker == 0xE1 {
                if payload.starts(with: xmpSignature) { return payload.dropFirst(xmpSignature.count) }
            }
            return nil
        case .png:
            return pngXMP(data)
        case nil:
            return nil
        }
    }

    /// Walks PNG chunks up to the image data for an iTXt chunk keyed `XML:com.adobe.xmp`
    /// (the XMP specification's place for it), inflating it when compressed.
    static func pngXMP(_ data: Data) -> Data? {
        let bytes = [UInt8](data)
        var i = 8
        while i + 12 <= bytes.count {
            let length = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            let type = String(decoding: bytes[(i + 4) ..< (i + 8)], as: UTF8.self)
            guard length >= 0, i + 12 + length <= bytes.count else { return nil }
            let body = Array(bytes[(i + 8) ..< (i + 8 + length)])
            if type == "IDAT" || type == "IEND" { return nil }
            if type == "iTXt", let text = iTXtText(body, keyword: "XML:com.adobe.xmp") { return text }
            i += 12 + length
        }
        return nil
    }

    /// iTXt layout: keyword NUL, compression flag, method, language NUL, translated
    /// keyword NUL, text (zlib-compressed when the flag is 1).
    static func iTXtText(_ body: [UInt8], keyword: String) -> Data? {
        guard let end = body.firstIndex(of: 0), String(decoding: body[..<end], as: UTF8.self) == keyword,
              end + 2 < body.count else { return nil }
        let compressed = body[end + 1] == 1
        var rest = body[(end + 3)...]
        guard let languageEnd = rest.firstIndex(of: 0) else { return nil }
        rest = rest[(languageEnd + 1)...]
        guard let translatedEnd = rest.firstIndex(of: 0) else { return nil }
        let text = Array(rest[(translatedEnd + 1)...])
        return compressed ? inflate(text, limit: 16 << 20) : Data(text)
    }

    /// zlib inflate with an output limit (a compressed chunk cannot become a bomb).
    static func inflate(_ input: [UInt8], limit: Int) -> Data? {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var input = input
        return input.withUnsafeMutableBufferPointer { inBuffer -> Data? in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[0..<produced])
                if output.count > limit { return nil }
                if status == Z_STREAM_END { return output }
                if status != Z_OK || (produced == 0 && stream.avail_in == 0) { return nil }
            }
        }
    }
}

/// EXIF orientation (TIFF tag 0x0112 in IFD0 of the APP1 `Exif` segment): 1 is upright;
/// 2-8 are the mirrorings and rotations a camera records instead of turning the pixels.
public enum ExifOrientation {
    public static func read(fromJPEG data: Data) -> Int {
        for (marker, payload) in ImageMetadata.jpegSegments(data) where marker == 0xE1 {
            let bytes = [UInt8](payload)
            guard bytes.starts(with: ImageMetadata.exifSignature) else { continue }
            return parseTIFF(Array(bytes[6...])) ?? 1
        }
        return 1
    }

    static func parseTIFF(_ tiff: [UInt8]) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for e in 0 ..< min(entries, 512) {
            let at = ifd + 2 + 12 * e
            guard let tag = u16(at) else { return nil }
            if tag == 0x0112, let value = u16(at + 8), (1...8).contains(value) { return value }
        }
        return nil
    }
}

extension RGBImage {
    /// Applies EXIF orientation `value` so the result is upright.
    /// 2 mirror horizontally, 3 rotate 180, 4 mirror vertically, 5 transpose,
    /// 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
    public func oriented(exif value: Int) -> RGBImage {
        guard (2...8).contains(value) else { return self }
        let swaps = value >= 5
        let newWidth = swaps ? height : width, newHeight = swaps ? width : height
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<newHeight {
            for x in 0..<newWidth {
                // The source pixel that lands at (x, y).
                let (sx, sy): (Int, Int)
                switch value {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)
                }
                let from = (sy * width + sx) * 3, to = (y * newWidth + x) * 3
                out[to] = pixels[from]; out[to + 1] = pixels[from + 1]; out[to + 2] = pixels[from + 2]
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }
}
