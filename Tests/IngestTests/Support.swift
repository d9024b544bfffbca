import Foundation
import TagganCore
@testable import Ingest

/// Files the tests read: committed fixtures (see scripts/fixtures/make_image_fixtures.py).
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func image(_ name: String) -> URL { folder.appendingPathComponent("images/\(name)") }
    static func data(_ name: String) throws -> Data { try Data(contentsOf: image(name)) }
}

/// A fresh temporary folder, removed when the value is dropped.
final class TemporaryFolder {
    let url: URL
    init(_ label: String = "taggan-test") {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    func write(_ relative: String, _ data: Data) throws -> URL {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        return file
    }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> URL { try write(relative, Data(text.utf8)) }

    func link(_ relative: String, to destination: String) throws {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: destination)
    }
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
