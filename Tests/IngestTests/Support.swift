import Foundation
import TagganCore
import TestSupport
@testable import Ingest

/// Files the tests read: committed fixtures (see scripts/fixtures/make_image_fixtures.py).
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func image(_ name: String) -> URL { folder.appendingPathComponent("images/\(name)") }
    static func data(_ name: String) throws -> Data { try Data(contentsOf: image(name)) }
}

/// The fixtures' scene: left half red, right half blue, green 8x8 square top-left.
func assertScene(_ image: RGBImage, tolerance: Int = 24, file: StaticString = #filePath) -> [String] {
    var problems: [String] = []
    func near(_ p: (UInt8, UInt8, UInt8), _ q: (Int, Int, Int)) -> Bool {
        abs(Int(p.0) - q.0) <= tolerance && abs(Int(p.1) - q.1) <= tolerance && abs(Int(p.2) - q.2) <= tolerance
    }
    if image.width != 32 || image.height != 24 { problems.append("size \(image.width)x\(image.height)") ; return problems }
    if !near(image[3, 3], (0, 255, 0)) { problems.append("green corner is \(image[3, 3])") }
    if !near(image[4, 18], (255, 0, 0)) { problems.append("left half is \(image[4, 18])") }
    if !near(image[28, 12], (0, 0, 255)) { problems.append("right half is \(image[28, 12])") }
    return problems
}

/// CRC-32 (PNG's chunk checksum), so tests can forge headers that libpng accepts.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
    }
    return ~crc
}
