import Foundation
import Testing
@testable import TagganCore

@Suite("Vectorised element-wise kernels")
struct VectorKernelTests {
    static let lengths = [0, 1, 15, 16, 17, 31, 32, 33, 1000]

    @Test(arguments: lengths)
    func dotAndSumMatchDoublePrecision(length: Int) {
        var random = SeededRandom(seed: UInt64(length))
        let x = (0..<length).map { _ in random.uniform(in: -1..<1) }
        let y = (0..<length).map { _ in random.uniform(in: -1..<1) }
        let exact = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let magnitude = zip(x, y).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        let dot = x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { VectorKernels.dot(px, $0) } }
        #expect(abs(Double(dot) - exact) <= Double(length + 1) * Double(Float.ulpOfOne) * magnitude + 1e-12)
        let sum = x.withUnsafeBufferPointer { VectorKernels.sum($0) }
        let exactSum = x.reduce(0.0) { $0 + Double($1) }
        #expect(abs(Double(sum) - exactSum) <= Double(length + 1) * Double(Float.ulpOfOne) * Double(length))
    }

    @Test(arguments: lengths)
    func axpyScaleMultiplyMatchScalarLoops(length: Int) {
        var random = SeededRandom(seed: UInt64(100 + length))
        let x = (0..<length).map { _ in random.uniform(in: -2..<2) }
        let y0 = (0..<length).map { _ in random.uniform(in: -2..<2) }
        var y = y0
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { VectorKernels.axpy(0.75, px, $0) } }
        #expect(y == zip(x, y0).map { 0.75 * $0 + $1 })   // one multiply and one add: exact match
        y = y0
        y.withUnsafeMutableBufferPointer { VectorKernels.scale($0, by: -3) }
        #expect(y == y0.map { $0 * -3 })
        y = y0
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { VectorKernels.multiply($0, by: px) } }
        #expect(y == zip(x, y0).map { $0 * $1 })
    }

    @Test func clampHandlesSpecialValues() {
        var values: [Float] = [-.infinity, -1, -0.0, 0, 0.5, 6, 7, .infinity, .greatestFiniteMagnitude]
        values += (0..<20).map { Float($0) - 5 }
        values.append(.nan)
        var relu6 = values
        relu6.withUnsafeMutableBufferPointer { VectorKernels.clamp($0, lower: 0, upper: 6) }
        for (input, output) in zip(values, relu6) {
            if input.isNaN { #expect(output.isNaN) } else { #expect(output == min(max(input, 0), 6)) }
        }
        var relu = values
        relu.withUnsafeMutableBufferPointer { VectorKernels.relu($0) }
        #expect(relu[0] == 0 && relu[7] == .infinity && relu[8] == .greatestFiniteMagnitude)
    }

    @Test func tensorArithmetic() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], values: [10, 20, 30, 40])
        #expect((a + b).storage == [11, 22, 33, 44])
        #expect((b - a).storage == [9, 18, 27, 36])
        #expect((a * b).storage == [10, 40, 90, 160])
        var c = a
        c.scale(by: 2)
        #expect(c.storage == [2, 4, 6, 8] && c.sum() == 20)
        #expect(a.row(1) == [3, 4] && a.rows == 2 && a.columns == 2)
        #expect(a.reshaped([4]).shape == [4])
    }
}

@Suite("Atomic files and batch accounting")
struct FileAndBatchTests {
    @Test func atomicWriteReplacesWholeFileAndLeavesNoTemporary() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("taggan-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("out.json")
        try AtomicFile.write("first", to: file)
        #expect(chmod(file.path, 0o600) == 0)
        try AtomicFile.write("second, longer", to: file)
        #expect(try String(contentsOf: file, encoding: .utf8) == "second, longer")
        var s = stat()
        #expect(stat(file.path, &s) == 0 && s.st_mode & 0o7777 == 0o600, "the replaced file's permissions are kept")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.json"])
    }

    @Test func atomicWriteFailureKeepsTheOldFile() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("taggan-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("model.json")
        try AtomicFile.write("good", to: file)
        struct Interrupted: Error {}
        #expect(throws: TagganError.self) {
            try AtomicFile.write(to: file) { handle in
                try handle.write(contentsOf: Data("half".utf8))
                throw Interrupted()
            }
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == "good")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.json"])
    }

    /// A link is written through (it stays a link, its target gets the bytes), a device
    /// is streamed into (never replaced by a regular file), a folder is refused.
    @Test func atomicWriteGoesThroughLinksAndIntoDevicesAndRefusesFolders() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let elsewhere = folder.appendingPathComponent("elsewhere"), link = folder.appendingPathComponent("out.jsonl")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "elsewhere/real.jsonl")
        try AtomicFile.write("through the link", to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == "elsewhere/real.jsonl")
        #expect(try String(contentsOf: elsewhere.appendingPathComponent("real.jsonl"), encoding: .utf8) == "through the link")
        let devNull = folder.appendingPathComponent("null")
        try FileManager.default.createSymbolicLink(atPath: devNull.path, withDestinationPath: "/dev/null")
        try AtomicFile.write("gone", to: devNull)
        try AtomicFile.write("gone", to: URL(fileURLWithPath: "/dev/null"))
        var s = stat()
        #expect(stat("/dev/null", &s) == 0 && (s.st_mode & S_IFMT) == S_IFCHR, "/dev/null is no longer a device")
        #expect(throws: TagganError.self) { try AtomicFile.write("full", to: URL(fileURLWithPath: "/dev/full")) }
        #expect(stat("/dev/full", &s) == 0 && (s.st_mode & S_IFMT) == S_IFCHR, "/dev/full is no longer a device")
        #expect(throws: TagganError.self) { try AtomicFile.write("x", to: elsewhere) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path) == ["real.jsonl"])
    }

    /// A killed write's temporary file is taken over by the next write (or removed by
    /// `removeStaleTemporary`); one a live process holds is left alone, and the write
    /// still lands. Names near the 255-byte limit still get a temporary name.
    @Test func atomicWriteCleansUpAKilledWritesTemporaryButNotALiveOne() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("a.jpg.xmp")
        let stale = AtomicFile.temporaryURL(for: file)
        #expect(stale.lastPathComponent == ".a.jpg.xmp.taggan-tmp")
        try Data("half of a killed write".utf8).write(to: stale)
        try AtomicFile.write("whole", to: file)
        #expect(try String(contentsOf: file, encoding: .utf8) == "whole")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["a.jpg.xmp"])

        try Data("left again".utf8).write(to: stale)
        AtomicFile.removeStaleTemporary(of: file)
        #expect(!FileManager.default.fileExists(atPath: stale.path))

        // A live writer's temporary file (locked here, on a descriptor of its own).
        try Data("another process is writing".utf8).write(to: stale)
        let held = open(stale.path, O_RDWR)
        #expect(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0)
        defer { close(held) }
        try AtomicFile.write("still lands", to: file)
        AtomicFile.removeStaleTemporary(of: file)
        #expect(try String(contentsOf: file, encoding: .utf8) == "still lands")
        #expect(try String(contentsOf: stale, encoding: .utf8) == "another process is writing")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == [".a.jpg.xmp.taggan-tmp", "a.jpg.xmp"])

        let long = folder.appendingPathComponent(String(repeating: "é", count: 123) + ".jpg.xmp")   // 254 bytes
        #expect(long.lastPathComponent.utf8.count == 254)
        try AtomicFile.write("long", to: long)
        #expect(try String(contentsOf: long, encoding: .utf8) == "long")
        #expect(AtomicFile.temporaryURL(for: long).lastPathComponent.utf8.count <= 255)
    }

    /// A file name's control characters are escaped in the log line, so a name cannot
    /// forge a line or send a terminal escape; plain names are printed as they are.
    @Test func skipLogEscapesControlCharactersInNames() {
        #expect(SkipLog.printable("line\nbreak \u{1B}[31mred\u{7F}.png") == "line\\nbreak \\u{1B}[31mred\\u{7F}.png")
        #expect(SkipLog.printable("naïve ☃ \"quote\",comma.png") == "naïve ☃ \"quote\",comma.png")
    }

    @Test func skipLogCountsByReason() {
        let log = SkipLog()
        #expect(log.summary == "none skipped")
        log.skip("a.jpg", reason: "truncated")
        log.skip("b.jpg", reason: "truncated")
        log.skip("c.png", reason: "not a PNG", detail: "starts with JPEG bytes")
        #expect(log.count == 3)
        #expect(log.summary == "3 skipped: 2 truncated, 1 not a PNG")
        #expect(JSONSummary.render(log.json) == #"{"count":3,"reasons":{"not a PNG":1,"truncated":2}}"#)
    }
}
