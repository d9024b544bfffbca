import Foundation
import TestSupport
import Testing
import TagganCore
@testable import Ingest

/// The fetched corpora (corpora/fetch-digits.sh); tests that need them fail, not skip,
/// when they are missing.
func corporaFolder() -> URL { TestData.corporaCache }

func temporaryFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-classcond-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Big-endian 32-bit words then bytes: an idx file.
func idx(_ words: [UInt32], _ bytes: [UInt8]) -> Data {
    var data = Data()
    for w in words { data.append(contentsOf: [UInt8(w >> 24), UInt8(w >> 16 & 0xFF), UInt8(w >> 8 & 0xFF), UInt8(w & 0xFF)]) }
    data.append(contentsOf: bytes)
    return data
}

@Suite("Class-conditional data: idx files and sklearn's digits")
struct LabelledImageDataTests {
    @Test func idxFilesReadAsScaledPixelsAndLabels() throws {
        let folder = try temporaryFolder("idx")
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.appendingPathComponent("i"), labels = folder.appendingPathComponent("l")
        // Two 2x3 images.
        try idx([0x803, 2, 2, 3], [0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255]).write(to: images)
        try idx([0x801, 2], [7, 2]).write(to: labels)
        let set = try IDXFile.readImages(images, labels: labels, classNames: (0...9).map(String.init))
        #expect(set.width == 3 && set.height == 2 && set.count == 2)
        #expect(set.labels == [7, 2])
        #expect(set.pixels.row(0) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(set.pixels.row(1) == [1, 0, 0, 0, 0, 1])
        #expect(set.subset([1]).labels == [2])
    }

    @Test func brokenIdxFilesAreRejectedWithTheFileAndTheReason() throws {
        let folder = try temporaryFolder("idx-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.appendingPathComponent("images"), labels = folder.appendingPathComponent("labels")
        let good = idx([0x803, 2, 1, 2], [1, 2, 3, 4]), goodLabels = idx([0x801, 2], [0, 1])
        let cases: [(Data, Data, String, String)] = [
            (idx([0x801, 2, 1, 2], [1, 2, 3, 4]), goodLabels, images.path, "not an idx image file"),
            (good, idx([0x803, 2], [0, 1]), labels.path, "not an idx label file"),
            (idx([0x803, 2, 1, 2], [1, 2, 3]), goodLabels, images.path, "truncated?"),
            (good, idx([0x801, 3], [0, 1, 1]), labels.path, "holds 3 labels"),
            (good, idx([0x801, 2], [0, 12]), labels.path, "label 12 of item 1 is not one of the 10 classes"),
            (Data([1, 2]), goodLabels, images.path, "not an idx image file"),
        ]
        for (imageBytes, labelBytes, path, reason) in cases {
            try imageBytes.write(to: images)
            try labelBytes.write(to: labels)
            do {
                _ = try IDXFile.readImages(images, labels: labels, classNames: (0...9).map(String.init))
                Issue.record("expected an error containing '\(reason)'")
            } catch let error as TagganError {
                guard case .file(let file, let message) = error else { Issue.record("\(error)"); continue }
                #expect(file == path)
                #expect(message.contains(reason), "\(message)")
            }
        }
        #expect(throws: TagganError.self) {
            try IDXFile.readImages(folder.appendingPathComponent("missing"), labels: labels, classNames: ["a"])
        }
    }

    /// Header sizes whose product passes Int's range (each may be up to 2^32 - 1) are
    /// reported as too large, not as a wrapped "expected N bytes" or an overflow trap.
    @Test func idxSizesWhoseProductOverflowsAreReportedAsTooLarge() throws {
        let folder = try temporaryFolder("idx-huge")
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = folder.appendingPathComponent("images"), labels = folder.appendingPathComponent("labels")
        try idx([0x801, 2], [0, 1]).write(to: labels)
        for (count, rows, columns) in [(UInt32.max, UInt32.max, UInt32.max), (4, 1 << 31, 1 << 31), (1 << 31, 1 << 31, 1 << 2),
                                       (UInt32.max, UInt32.max, 1)] {
            try idx([0x803, count, rows, columns], [1, 2, 3, 4]).write(to: images)
            #expect(throws: TagganError.file(images.path, "its header says \(count) images of \(rows)x\(columns): sizes too large "
                                             + "(their product overflows), a corrupt header?"), "\(count) x \(rows) x \(columns)") {
                try IDXFile.readImages(images, labels: labels, classNames: (0...9).map(String.init))
            }
        }
    }

    @Test func digitsCSVLinesAreCheckedField_by_field() throws {
        let folder = try temporaryFolder("digits")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("digits.csv")
        let row = (0..<64).map { String($0 % 17) }.joined(separator: ",")
        try "\(row),3\n\(row),9\n".write(to: url, atomically: true, encoding: .utf8)
        let set = try DigitsCSV.read(url)
        #expect(set.count == 2 && set.width == 8 && set.labels == [3, 9])
        #expect(set.pixels[0, 16] == 1 && set.pixels[0, 8] == 0.5)
        let cases = [("\(row)\n", "line 1: 64 fields, expected 65 (64 pixels and the label)"),
                     ("\(row),10\n", "line 1, field 65: '10' is not a label 0..9"),
                     ("17," + row.dropFirst(2) + ",1\n", "line 1, field 1: '17' is not a pixel value 0..16"), ("", "no images")]
        for (text, reason) in cases {
            try text.write(to: url, atomically: true, encoding: .utf8)
            #expect(throws: TagganError.file(url.path, reason)) { try DigitsCSV.read(url) }
        }
    }

    @Test func realDigitsSplitIntoTrainValidationAndTestWithoutOverlap() throws {
        let splits = try LabelledImageDatasets.load("digits", folder: corporaFolder().appendingPathComponent("digits"))
        #expect(splits.train.count == 1199 && splits.validation.count == 299 && splits.test.count == 299)
        #expect(Set(splits.train.labels).count == 10 && Set(splits.test.labels).count == 10)
        #expect(splits.train.pixels.storage.allSatisfy { $0 >= 0 && $0 <= 1 })
        let again = try LabelledImageDatasets.load("digits", folder: corporaFolder().appendingPathComponent("digits"))
        #expect(again.test == splits.test, "the split is fixed")
        #expect(throws: UnknownDataset(name: "mnist", known: ["fashion-mnist", "digits"])) {
            try LabelledImageDatasets.load("mnist", folder: corporaFolder())
        }
    }
}
