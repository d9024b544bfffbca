import Foundation
import Testing
@testable import Ingest
@testable import TagganCore

/// taggan's Huffman decoder for baseline JPEGs (Sources/_JPEGShim/jpeg_entropy.c) against
/// libjpeg's own: the same pixels to the bit for every layout libjpeg can write, and
/// never a picture libjpeg would not give for damaged data.
@Suite("JPEG Huffman decoding: taggan's against libjpeg's")
struct HuffmanDecoderTests {
    let own = ImageDecoder(entropyDecoder: .taggan)
    let libjpeg = ImageDecoder(entropyDecoder: .libjpeg)

    /// A picture with photo-like statistics and more: smooth gradients, edges, and noise
    /// whose strength varies across the picture, so blocks have from no AC coefficients to
    /// nearly all 63 and values from 1 to the largest sizes (long codes and value bits).
    static func texture(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % 256)
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let noise = (x / 16 + y / 16) % 4  // 0: smooth ... 3: full noise
                for c in 0..<3 {
                    let smooth = (x * (c + 1) * 255 / max(width, 1) + y * 255 / max(height, 1)) / 2
                    let edge = ((x / 5 + y / 7 + c) % 2) * 90
                    let random = next() - 128
                    let value = smooth + (noise >= 2 ? edge : 0) + random * noise / 3
                    pixels[(y * width + x) * 3 + c] = UInt8(max(0, min(255, value)))
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static let layouts: [(Int, Int, Bool)] = [(2, 2, false), (2, 1, false), (1, 1, false), (1, 2, false), (1, 1, true)]

    /// Every layout (4:2:0, 4:2:2, 4:4:4, 4:4:0, gray) at qualities 50, 90 and 100, with
    /// and without restart markers (every MCU, every 5), standard and optimised Huffman
    /// tables, at sizes from 1x1 to 333x251, decoded at scales 1, 1/2, 1/4 and 1/8: taggan's
    /// decoder takes each file and gives libjpeg's pixels exactly.
    @Test func everyBaselineLayoutDecodesToLibjpegsPixels() throws {
        var files = 0
        for (width, height) in [(1, 1), (8, 8), (37, 23), (333, 251)] {
            let image = Self.texture(width: width, height: height, seed: UInt64(width * 1000 + height))
            for (h, v, gray) in Self.layouts {
                for quality in [50, 90, 100] {
                    for restart in [0, 1, 5] {
                        for optimized in [false, true] {
                            var options = ImageEncoder.JPEGOptions()
                            (options.hSampling, options.vSampling, options.gray) = (h, v, gray)
                            (options.quality, options.restartInterval, options.optimized) = (quality, restart, optimized)
                            let data = try ImageEncoder.jpeg(image, options)
                            for denominator in [1, 2, 4, 8] {
                                #expect(try own.decodesWithOwnHuffman(data, scaleDenominator: denominator),
                                        "\(width)x\(height) \(options)")
                                let target = denominator == 1 ? nil : max(1, min(width, height) / denominator)
                                let ours = try own.decode(data, targetShorterSide: target)
                                let theirs = try libjpeg.decode(data, targetShorterSide: target)
                                #expect(ours == theirs, "\(width)x\(height) \(options) 1/\(denominator)")
                            }
                            files += 1
                        }
                    }
                }
            }
        }
        #expect(files == 4 * 5 * 3 * 3 * 2)
    }

    /// Progressive files are not taken: libjpeg's decoder stays, the pixels are its own.
    @Test func progressiveFilesKeepLibjpegsDecoder() throws {
        var options = ImageEncoder.JPEGOptions()
        options.progressive = true
        let data = try ImageEncoder.jpeg(Self.texture(width: 64, height: 48, seed: 7), options)
        #expect(try own.decodesWithOwnHuffman(data) == false)
        #expect(try own.decode(data) == (try libjpeg.decode(data)))
        #expect(try libjpeg.decodesWithOwnHuffman(data) == false)
    }

    /// Fill bytes (extra 0xFF) are allowed before a marker, not before data: a stuffed FF 00
    /// written as FF FF 00 is refused as corrupt (libjpeg-turbo 2.1's fast path misreads it
    /// and gives a picture with stray coefficients, found by fuzzing), while FF FF before
    /// the end-of-image marker decodes to the picture without them.
    @Test func fillBytesBeforeDataAreCorruptBeforeAMarkerAllowed() throws {
        var options = ImageEncoder.JPEGOptions()
        options.quality = 95
        let bytes = [UInt8](try ImageEncoder.jpeg(Self.texture(width: 96, height: 64, seed: 3), options))
        let start = Self.entropyStart(bytes)
        let stuffed = try #require((start..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0x00 })
        var filled = bytes
        filled.insert(0xFF, at: stuffed)
        do {
            _ = try own.decode(Data(filled))
            Issue.record("FF FF 00 in entropy-coded data decoded")
        } catch let error as ImageDecoder.DecodeError {
            #expect(error.reason == "truncated or corrupt JPEG" && error.detail.contains("extraneous"), "\(error)")
        }
        var beforeEnd = bytes
        beforeEnd.insert(contentsOf: [0xFF, 0xFF], at: bytes.count - 2)
        #expect(try own.decode(Data(beforeEnd)) == (try libjpeg.decode(Data(bytes))))
    }

    /// A hand-made gray baseline JPEG of `blocksWide` x `blocksHigh` blocks, each adding the
    /// largest DC difference (2047) and then ending: one-code Huffman tables, quantiser 1.
    static func risingDC(blocksWide: Int, blocksHigh: Int) -> Data {
        var bytes: [UInt8] = [0xFF, 0xD8]
        bytes += [0xFF, 0xDB, 0x00, 0x43, 0x00] + [UInt8](repeating: 1, count: 64)  // DQT: all ones
        let (w, h) = (blocksWide * 8, blocksHigh * 8)
        bytes += [0xFF, 0xC0, 0x00, 0x0B, 0x08, UInt8(h >> 8), UInt8(h & 255), UInt8(w >> 8), UInt8(w & 255),
                  0x01, 0x01, 0x11, 0x00]  // SOF0: 8-bit, one component, 1x1, table 0
        func table(_ classAndIndex: UInt8, symbol: UInt8) -> [UInt8] {  // one 1-bit code, '0'
            [0xFF, 0xC4, 0x00, 0x14, classAndIndex, 1] + [UInt8](repeating: 0, count: 15) + [symbol]
        }
        bytes += table(0x00, symbol: 11) + table(0x10, symbol: 0x00)  // DC: size 11; AC: end of block
        bytes += [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]
        var accumulator: UInt32 = 0, pending = 0
        func put(_ value: UInt32, _ count: Int) {
            accumulator = accumulator << UInt32(count) | value
            pending += count
            while pending >= 8 {
                let byte = UInt8((accumulator >> UInt32(pending - 8)) & 255)
                bytes.append(byte)
                if byte == 0xFF { bytes.append(0) }
                pending -= 8
            }
            accumulator &= (1 << UInt32(pending)) - 1
        }
        for _ in 0..<(blocksWide * blocksHigh) { put(0b0_111_1111_1111_0, 13) }  // code 0, 2047, end
        if pending > 0 { put((1 << UInt32(8 - pending)) - 1, 8 - pending) }  // pad with ones
        return Data(bytes + [0xFF, 0xD9])
    }

    /// When the DC sum leaves the int range (2047 x 1,049,090 blocks > 2^31 - 1), taggan's
    /// decoder refuses the file ("DCT coefficient out of range") instead of wrapping round;
    /// the same stream 1,024 blocks shorter (sum 2,146,435,072) decodes.
    @Test func dcSumsPastTheIntRangeAreAnError() throws {
        let decoder = ImageDecoder(maxPixels: 100_000_000, entropyDecoder: .taggan)
        let over = Self.risingDC(blocksWide: 1024, blocksHigh: 1025)
        #expect(try decoder.decodesWithOwnHuffman(over, scaleDenominator: 8))
        do {
            _ = try decoder.decode(over, targetShorterSide: 1024)
            Issue.record("a DC sum past the int range decoded")
        } catch let error as ImageDecoder.DecodeError {
            #expect(error.reason == "truncated or corrupt JPEG" && error.detail.contains("out of range"), "\(error)")
        }
        let under = Self.risingDC(blocksWide: 1024, blocksHigh: 1024)
        #expect(try decoder.decode(under, targetShorterSide: 1024).width == 1024)
    }

    /// The offset of the first byte after the SOS segment: where entropy-coded data starts.
    static func entropyStart(_ bytes: [UInt8]) -> Int {
        var i = 2
        while i + 4 <= bytes.count {
            let marker = bytes[i + 1], length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if marker == 0xDA { return i + 2 + length }
            i += 2 + length
        }
        return bytes.count
    }

    /// Damaged entropy data (bytes changed, dropped or inserted, stray markers, cut files),
    /// 1,200 files: taggan's decoder never crashes, and every picture it gives is one
    /// libjpeg gives too, to the bit; what it refuses is reported as a corrupt JPEG.
    @Test func damagedDataNeverDecodesDifferently() throws {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(max(n, 1)))
        }
        var bothDecoded = 0, bothRefused = 0, onlyLibjpeg = 0
        for (index, restart) in [0, 3].enumerated() {
            var options = ImageEncoder.JPEGOptions()
            options.restartInterval = restart
            options.quality = 85
            let original = [UInt8](try ImageEncoder.jpeg(Self.texture(width: 96, height: 64, seed: UInt64(index + 1)), options))
            let start = Self.entropyStart(original)
            for _ in 0..<600 {
                var bytes = original
                for _ in 0...next(3) {
                    guard bytes.count > start + 2 else { break }
                    let at = start + next(bytes.count - 2 - start)
                    switch next(6) {
                    case 0: bytes[at] ^= UInt8(1 << next(8))
                    case 1: bytes[at] = UInt8(next(256))
                    case 2: bytes.remove(at: at)
                    case 3: bytes.insert(contentsOf: [0xFF, UInt8(0xD0 + next(8))], at: at)
                    case 4: bytes.insert(contentsOf: [0xFF, 0x00], at: at)
                    default: bytes = Array(bytes.prefix(at))
                    }
                }
                let data = Data(bytes)
                let ours = Result { try own.decode(data) }, theirs = Result { try libjpeg.decode(data) }
                switch (ours, theirs) {
                case let (.success(a), .success(b)):
                    #expect(a == b)
                    bothDecoded += 1
                case (.success, .failure(let error)):
                    Issue.record("taggan's decoder gave a picture where libjpeg's refused: \(error)")
                case (.failure(let error), _):
                    #expect((error as? ImageDecoder.DecodeError)?.reason == "truncated or corrupt JPEG", "\(error)")
                    if case .success = theirs { onlyLibjpeg += 1 } else { bothRefused += 1 }
                }
            }
        }
        // Damage mostly breaks the data for both; what libjpeg alone accepts is a bad
        // Huffman code its fast path decodes silently as zero, which taggan refuses.
        #expect(bothRefused > 600 && bothDecoded > 10, "both decoded \(bothDecoded), both refused \(bothRefused), libjpeg alone \(onlyLibjpeg)")
    }
}
