import Foundation
import TestSupport
import Testing
@testable import TagganCore
@testable import Ingest

@Suite("Image decoding")
struct ImageDecoderTests {
    /// readFile's refusals, each with its reason: a 2 GiB file named .jpg as too large,
    /// text named .jpg as not an image, a FIFO named .jpg as not a regular file (the
    /// test would hang if it were read), an empty file as empty, a missing one as
    /// unreadable; a PNG signature's bytes are returned whole.
    @Test func readFileRefusesOversizedNonImageFIFOAndEmptyFiles() throws {
        let folder = TemporaryFolder()
        let big = try folder.write("big.jpg", Data([0xFF, 0xD8, 0xFF, 0xE0]))
        #expect(truncate(big.path, 2 << 30) == 0)
        func reason(_ url: URL) -> String? {
            do { _ = try ImageDecoder.readFile(url); return nil } catch let error as ImageDecoder.DecodeError { return error.reason } catch { return "\(error)" }
        }
        #expect(reason(big) == "file too large")
        #expect(reason(try folder.write("text.jpg", "hello, not an image")) == "not a JPEG or PNG image")
        #expect(reason(try folder.write("empty.png", Data())) == "empty file")
        let fifo = folder.url.appendingPathComponent("fifo.jpg")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        #expect(reason(fifo) == "not a regular file")
        #expect(reason(folder.url.appendingPathComponent("missing.png")) == "unreadable")
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + Data(repeating: 7, count: 100)
        #expect(try ImageDecoder.readFile(try folder.write("a.png", png)) == png)
    }

    let decoder = ImageDecoder()

    @Test("every encoding of the scene decodes to it",
          arguments: ["baseline.jpg", "progressive.jpg", "cmyk.jpg", "exif-orientation-6.jpg", "xmp-embedded.jpg",
                      "rgb8.png", "palette.png", "rgb16-interlaced.png", "xmp-itxt.png", "xmp-itxt-compressed.png"])
    func decodesScene(_ name: String) throws {
        let image = try decoder.decode(contentsOf: Fixtures.image(name))
        #expect(assertScene(image) == [])
    }

    @Test func grayscaleBecomesEqualChannels() throws {
        for name in ["gray.jpg", "gray8.png"] {
            let image = try decoder.decode(contentsOf: Fixtures.image(name))
            #expect(image.width == 32 && image.height == 24)
            let (r, g, b) = image[28, 12]
            #expect(r == g && g == b, "\(name)")
            // Luma of pure blue (0.114 * 255 = 29) and green (0.587 * 255 = 150).
            #expect(abs(Int(r) - 29) < 12 && abs(Int(image[3, 3].0) - 150) < 12, "\(name)")
        }
    }

    /// A 16-bit PNG with no gAMA or sRGB chunk decodes to the values an 8-bit one with
    /// the same picture has (value x 257), not to a brightened "linear light" reading.
    @Test func sixteenBitPNGWithoutGammaIsReadAsSRGB() throws {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in typed {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
            return be(UInt32(body.count)) + typed + be(~crc)
        }
        let width = 4, height = 2, levels: [UInt16] = [0, 64, 128, 200]
        var raw: [UInt8] = []
        for _ in 0..<height {
            raw.append(0)   // filter: none
            for x in 0..<width { let v = levels[x] * 257; raw += [UInt8(v >> 8), UInt8(v & 255)] }
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        let adler = (b << 16) | a
        let zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(raw.count & 255), UInt8(raw.count >> 8),
                             UInt8(~raw.count & 255), UInt8((~raw.count >> 8) & 255)] + raw
            + [UInt8(adler >> 24), UInt8(adler >> 16 & 255), UInt8(adler >> 8 & 255), UInt8(adler & 255)]
        let header: [UInt8] = [0, 0, 0, UInt8(width), 0, 0, 0, UInt8(height), 16, 0, 0, 0, 0]   // 16-bit grey
        let png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
        let image = try decoder.decode(Data(png))
        for (x, level) in levels.enumerated() {
            #expect(abs(Int(image[x, 1].0) - Int(level)) <= 1, "level \(level) decoded as \(image[x, 1].0)")
        }
    }

    @Test func alphaIsCompositedOntoWhite() throws {
        let image = try decoder.decode(contentsOf: Fixtures.image("rgba-half-transparent.png"))
        #expect(image[28, 12] == (255, 255, 255))
        #expect(image[4, 18] == (255, 0, 0))
    }

    @Test func exifOrientationIsRead() throws {
        #expect(ExifOrientation.read(fromJPEG: try Fixtures.data("exif-orientation-6.jpg")) == 6)
        #expect(ExifOrientation.read(fromJPEG: try Fixtures.data("baseline.jpg")) == 1)
    }

    @Test("all eight orientations put the marker top-left", arguments: 1...8)
    func orientations(_ value: Int) {
        // A 3x2 image whose marker pixel (255) is where orientation `value` stores the
        // displayed top-left corner.
        let stored: [Int: (Int, Int, Int, Int)] = [   // value: (stored w, h, marker x, y)
            1: (3, 2, 0, 0), 2: (3, 2, 2, 0), 3: (3, 2, 2, 1), 4: (3, 2, 0, 1),
            5: (2, 3, 0, 0), 6: (2, 3, 0, 2), 7: (2, 3, 1, 2), 8: (2, 3, 1, 0),
        ]
        let (w, h, mx, my) = stored[value]!
        var image = RGBImage(width: w, height: h)
        image.pixels[(my * w + mx) * 3] = 255
        let upright = image.oriented(exif: value)
        #expect(upright.width == 3 && upright.height == 2)
        #expect(upright[0, 0].0 == 255)
        #expect(upright.pixels.filter { $0 == 255 }.count == 1)
    }

    @Test func dctScalingDecodesSmaller() throws {
        let data = try Fixtures.data("baseline.jpg")   // 32 x 24
        #expect(try decoder.decode(data, targetShorterSide: 12).width == 16)   // 1/2
        #expect(try decoder.decode(data, targetShorterSide: 6).width == 8)     // 1/4
        #expect(try decoder.decode(data, targetShorterSide: 3).width == 4)     // 1/8
        #expect(try decoder.decode(data, targetShorterSide: 24).width == 32)   // full size
        let header = try decoder.header(of: data)
        #expect(header == .init(format: .jpeg, width: 32, height: 24))
    }

    @Test func resizeAveragesAndKeepsFlatColours() {
        var image = RGBImage(width: 8, height: 8, filledWith: 200)
        for y in 0..<8 { for x in 0..<4 { image.pixels[(y * 8 + x) * 3] = 0 } }   // left half R=0
        // Triangle filter widened to the scale: 8 -> 2 puts output 0's centre at source
        // 2.0 with half-width 4, weights 1 - |s + 0.5 - 2| / 4 for s = 0...5 (sum 3.5);
        // the right-half pixels 4 and 5 weigh 0.375 + 0.125, so R = 200 * 0.5 / 3.5 = 28.6.
        let small = image.resized(width: 2, height: 2)
        #expect(small[0, 0] == (29, 200, 200) && small[1, 1] == (171, 200, 200))
        // 8 -> 4: output 1 centred at 3.0, half-width 2: weights .25 .75 .75 .25 over
        // source 1-4, of which only pixel 4 is 200: R = 200 * 0.25 / 2 = 25.
        let half = image.resized(width: 4, height: 4)
        #expect(half[1, 1].0 == 25 && half[2, 1].0 == 175 && half[0, 0].0 == 0)
        let one = image.resized(width: 1, height: 1)
        #expect(one[0, 0].0 == 100)                         // mean of the two halves
        let bigger = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 255, 255, 255]).resized(width: 4, height: 1)
        #expect(bigger.pixels[0] == 0 && bigger.pixels[9] == 255 && bigger.pixels[3] > 0 && bigger.pixels[3] < 255)
        #expect(image.resized(shorterSide: 4).width == 4)
        #expect(RGBImage(width: 40, height: 20).resized(shorterSide: 10).width == 20)
        let crop = RGBImage(width: 6, height: 4, pixels: (0..<72).map { UInt8($0) }).centerCropped(width: 2, height: 2)
        #expect(crop.width == 2 && crop.pixels[0] == UInt8((1 * 6 + 2) * 3))
    }

    /// A picture of pseudo-random bytes (an LCG), so every filter tap matters.
    static func noise(width: Int, height: Int, seed: UInt32) -> RGBImage {
        var state = seed
        return RGBImage(width: width, height: height, pixels: (0 ..< width * height * 3).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        })
    }

    @Test("the fused resize and centre crop gives the bytes of resizing, then cropping",
          arguments: [(500, 333), (333, 500), (437, 291), (1200, 800), (401, 257), (100, 61), (256, 300), (300, 256), (224, 224), (9, 3)])
    func resizedCentreCropEqualsResizeThenCrop(width: Int, height: Int) {
        let image = Self.noise(width: width, height: height, seed: UInt32(width * 1000 + height))
        for (side, crop) in [(256, (224, 224)), (256, (300, 300)), (57, (13, 7)), (3, (2, 3))] {
            let fused = image.resizedCentreCrop(shorterSide: side, width: crop.0, height: crop.1)
            let reference = image.resized(shorterSide: side).centerCropped(width: crop.0, height: crop.1)
            #expect(fused == reference, "\(width)x\(height) to side \(side), crop \(crop)")
        }
    }

    @Test func aWindowOfAResizeIsTheSameWindowOfTheWholeResize() {
        let image = Self.noise(width: 61, height: 47, seed: 7)
        for (w, h) in [(23, 31), (61, 47), (130, 90), (5, 4)] {
            let whole = image.resized(width: w, height: h)
            for (columns, rows) in [(0 ..< w, 0 ..< h), (1 ..< w - 1, 2 ..< h), (w / 3 ..< w / 3 + 1, h - 1 ..< h), (w - 2 ..< w, 0 ..< 1)] {
                let window = image.resampled(width: w, height: h, columns: columns, rows: rows)
                var bytes: [UInt8] = []
                for y in rows { bytes += whole.pixels[(y * w + columns.lowerBound) * 3 ..< (y * w + columns.upperBound) * 3] }
                #expect(window.width == columns.count && window.height == rows.count && window.pixels == bytes,
                        "\(w)x\(h) window \(columns) x \(rows)")
            }
        }
    }

    // MARK: Bad input: each is a DecodeError with a reason, never a crash.

    static func truncated(_ name: String, keep fraction: Double) throws -> Data {
        let data = try Fixtures.data(name)
        return data.prefix(Int(Double(data.count) * fraction))
    }

    /// A JPEG whose Huffman table (DHT) values are overwritten with garbage.
    static func corruptHuffman() throws -> Data {
        var bytes = [UInt8](try Fixtures.data("baseline.jpg"))
        let dht = (0 ..< bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC4 }!
        for i in (dht + 5) ..< (dht + 21) { bytes[i] = 0xFF }    // code-length counts: impossible
        return Data(bytes)
    }

    /// The fixture PNG with its IHDR claiming width x height (CRC fixed, so only the size is wrong).
    static func pngClaiming(width: UInt32, height: UInt32) throws -> Data {
        var bytes = [UInt8](try Fixtures.data("rgb8.png"))
        let put = { (at: Int, value: UInt32) in
            for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(k))) }
        }
        put(16, width); put(20, height)
        put(29, crc32(Array(bytes[12 ..< 29])))
        return Data(bytes)
    }

    /// The fixture JPEG with its SOF0 frame header claiming 65000 x 65000 pixels.
    static func jpegClaimingHuge() throws -> Data {
        var bytes = [UInt8](try Fixtures.data("baseline.jpg"))
        let sof = (0 ..< bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }!
        bytes[sof + 5] = 0xFD; bytes[sof + 6] = 0xE8; bytes[sof + 7] = 0xFD; bytes[sof + 8] = 0xE8
        return Data(bytes)
    }

    static let badInputs: [(String, @Sendable () throws -> Data, String)] = [
        ("empty", { Data() }, "empty file"),
        ("truncated JPEG", { try truncated("baseline.jpg", keep: 0.6) }, "truncated or corrupt JPEG"),
        ("JPEG cut in its header", { try truncated("baseline.jpg", keep: 0.1) }, "truncated or corrupt JPEG"),
        ("truncated PNG", { try truncated("rgb8.png", keep: 0.7) }, "truncated or corrupt PNG"),
        ("corrupt Huffman table", corruptHuffman, "truncated or corrupt JPEG"),
        ("text", { Data("hello, not an image".utf8) }, "not a JPEG or PNG image"),
        ("PNG claiming 100000x100000", { try pngClaiming(width: 100_000, height: 100_000) }, "too many pixels"),
        ("JPEG claiming 65000x65000", jpegClaimingHuge, "too many pixels"),
    ]

    @Test("bad input is a decode error with a reason", arguments: badInputs.indices)
    func badInput(_ index: Int) throws {
        let (name, make, reason) = Self.badInputs[index]
        let data = try make()
        do {
            _ = try decoder.decode(data)
            Issue.record("\(name) decoded")
        } catch let error as ImageDecoder.DecodeError {
            #expect(error.reason == reason, "\(name): \(error)")
        }
    }

    @Test func pixelLimitIsConfigurable() throws {
        let small = ImageDecoder(maxPixels: 500)   // the scene has 768 pixels
        #expect(throws: ImageDecoder.DecodeError.self) { try small.decode(try Fixtures.data("rgb8.png")) }
        #expect(try ImageDecoder(maxPixels: 768).decode(try Fixtures.data("rgb8.png")).width == 32)
    }

    @Test func pngNamedJpgDecodesByContent() throws {
        let folder = TemporaryFolder()
        let file = try folder.write("really-a-png.jpg", try Fixtures.data("rgb8.png"))
        #expect(assertScene(try decoder.decode(contentsOf: file)) == [])
    }

    @Test func fileErrorsNameTheFile() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/taggan/x.jpg")
        let unreadable = #expect(throws: ImageDecoder.FileError.self) { try decoder.decode(contentsOf: missing) }
        #expect(unreadable?.path == missing.path && unreadable?.reason == "unreadable")
        let folder = TemporaryFolder()
        let empty = try folder.write("empty.png", Data())
        let error = #expect(throws: ImageDecoder.FileError.self) { try decoder.decode(contentsOf: empty) }
        #expect(error == ImageDecoder.FileError(path: empty.path, reason: "empty file", detail: ""))
        #expect(error?.description == "\(empty.path): empty file")
    }
}
