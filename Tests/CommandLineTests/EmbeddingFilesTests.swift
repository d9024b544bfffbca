import Foundation
import Testing
import TagganCore
import TestSupport
@testable import Workspace

/// The embedding files' append path (issue 13): rows go to parts, the matrix is written
/// once when they are joined, and every state a kill can leave between two writes reads
/// as the committed rows and joins to the same files as a run that was never killed.
@Suite("embedding files: parts and their join")
struct EmbeddingFilesTests {
    static let f = 5

    /// `count` rows for images `first...`, each row's values derived from its id.
    static func rows(_ ids: Range<Int>) -> EmbeddingFiles.Rows {
        var rows = EmbeddingFiles.Rows()
        for id in ids {
            rows.ids.append(id * 7 + 1)
            rows.keys.append("photos/image \(id).jpg")
            rows.values += (0..<f).map { Float(id) + Float($0) / 8 }
        }
        return rows
    }

    static func bytes(_ url: URL) -> Data? { FileManager.default.contents(atPath: url.path) }

    /// A mapping file saved with CRLF line ends (an editor on another system) reads as the
    /// same rows and keys as the LF file; a malformed line is still an error naming the file.
    @Test func aMappingWithCRLFLineEndsReadsAsTheSameRows() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-crlf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let lf = folder.appendingPathComponent("lf.tsv"), crlf = folder.appendingPathComponent("crlf.tsv")
        let text = "row\timage_id\tkey\n0\t7\ta/b.png\n1\t9\tc d.jpg\n"
        try text.write(to: lf, atomically: true, encoding: .utf8)
        try text.replacingOccurrences(of: "\n", with: "\r\n").write(to: crlf, atomically: true, encoding: .utf8)
        let a = try EmbeddingFiles.mappingRows(lf), b = try EmbeddingFiles.mappingRows(crlf)
        #expect(a.ids == [7, 9] && a.keys == ["a/b.png", "c d.jpg"])
        #expect(b.ids == a.ids && b.keys == a.keys)
        let bad = folder.appendingPathComponent("bad.tsv")
        try "row\timage_id\tkey\r\n0\tseven\tx\r\n".write(to: bad, atomically: true, encoding: .utf8)
        #expect(throws: TagganError.self) { try EmbeddingFiles.mappingRows(bad) }
    }

    @Test func appendedPartsReadAsRowsAndJoinIntoOneMatrix() throws {
        let folder = TemporaryFolder("taggan-embeddings")
        let files = EmbeddingFiles(workspace: folder.url, model: "efficientnet-lite0", shard: nil)
        try files.append(Self.rows(0..<3), featureSize: Self.f)
        try files.append(Self.rows(3..<4), featureSize: Self.f)
        #expect(!FileManager.default.fileExists(atPath: files.matrix.path), "appending wrote the matrix")
        let read = try files.read(featureSize: Self.f)
        let whole = Self.rows(0..<4)
        #expect(read.ids == whole.ids && read.keys == whole.keys && read.values == whole.values)

        let joined = try files.consolidate(featureSize: Self.f)
        #expect(joined.rows == 4)
        #expect(!FileManager.default.fileExists(atPath: files.parts.path), "parts left after the join")
        let matrix = try NPY.read(contentsOf: files.matrix)
        #expect(matrix.shape == [4, Self.f] && matrix.storage == whole.values)
        let mapping = try String(contentsOf: files.mapping, encoding: .utf8)
        #expect(mapping == "row\timage_id\tkey\n" + whole.ids.enumerated().map { "\($0)\t\($1)\tphotos/image \($0).jpg\n" }.joined())

        // Later rows: a part again; the matrix stays as it was until the next join.
        let before = Self.bytes(files.matrix)
        try files.append(Self.rows(4..<6), featureSize: Self.f)
        #expect(Self.bytes(files.matrix) == before)
        #expect(try files.ids(featureSize: Self.f) == Self.rows(0..<6).ids)
        try files.consolidate(featureSize: Self.f)
        #expect(try NPY.read(contentsOf: files.matrix).storage == Self.rows(0..<6).values)
    }

    @Test func theIndexReadsTheRowsAskedForInTheOrderAskedAsReadHasThem() throws {
        let folder = TemporaryFolder("taggan-embeddings-index")
        let files = EmbeddingFiles(workspace: folder.url, model: "efficientnet-lite0", shard: nil)
        try files.append(Self.rows(0..<5), featureSize: Self.f)
        try files.consolidate(featureSize: Self.f)
        try files.append(Self.rows(3..<8), featureSize: Self.f)   // 3 and 4 again: the matrix's rows count
        try files.append(Self.rows(8..<9), featureSize: Self.f)
        let read = try files.read(featureSize: Self.f)
        let index = try files.index(featureSize: Self.f)
        #expect(index.count == read.ids.count && read.ids.allSatisfy(index.contains) && !index.contains(2))
        func row(_ id: Int) -> [Float] {
            let r = read.ids.firstIndex(of: id)!
            return Array(read.values[r * Self.f ..< (r + 1) * Self.f])
        }
        for order in [read.ids, read.ids.reversed(), [read.ids[4], read.ids[0], read.ids[5], read.ids[6], read.ids[4]], []] {
            let values = try index.values(of: order)
            #expect(values.shape == [order.count, Self.f] && values.storage == order.flatMap(row), "\(order)")
        }
    }

    @Test func theIndexConvertsAMatrixOfAnotherValueType() throws {
        let folder = TemporaryFolder("taggan-embeddings-f8")
        let files = EmbeddingFiles(workspace: folder.url, model: "efficientnet-lite0", shard: nil)
        let rows = Self.rows(0..<3)
        // The matrix as numpy's float64 (descr '<f8'), written by hand.
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, \(Self.f)), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8))
        for value in rows.values { withUnsafeBytes(of: Double(value).bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        try data.write(to: files.matrix)
        try EmbeddingFiles.mappingText(ids: rows.ids, keys: rows.keys).write(to: files.mapping, atomically: true, encoding: .utf8)
        let values = try files.index(featureSize: Self.f).values(of: [rows.ids[2], rows.ids[1]])
        #expect(values.storage == Array(rows.values[2 * Self.f ..< 3 * Self.f] + rows.values[Self.f ..< 2 * Self.f]))
    }

    /// The files a run that is never killed leaves: 0..<4 joined, then 4..<6 joined.
    static func reference(_ folder: TemporaryFolder) throws -> (matrix: Data?, mapping: Data?) {
        let files = EmbeddingFiles(workspace: folder.url.appendingPathComponent("reference"), model: "efficientnet-lite0", shard: nil)
        try files.append(rows(0..<4), featureSize: f)
        try files.consolidate(featureSize: f)
        try files.append(rows(4..<6), featureSize: f)
        try files.consolidate(featureSize: f)
        return (bytes(files.matrix), bytes(files.mapping))
    }

    enum KillState: String, CaseIterable {
        /// A part's matrix written, its mapping not.
        case partUncommitted
        /// The joined matrix renamed into place, the old mapping still there.
        case matrixBeforeMapping
        /// The joined matrix and mapping in place, the parts not yet removed.
        case partsNotRemoved
    }

    @Test(arguments: KillState.allCases)
    func aKillBetweenTwoWritesReadsAsTheCommittedRowsAndJoinsToTheSameFiles(state: KillState) throws {
        let folder = TemporaryFolder("taggan-embeddings-kill")
        let reference = try Self.reference(folder)
        let files = EmbeddingFiles(workspace: folder.url.appendingPathComponent("W"), model: "efficientnet-lite0", shard: nil)
        try files.append(Self.rows(0..<4), featureSize: Self.f)
        try files.consolidate(featureSize: Self.f)
        let committed: [Int]
        switch state {
        case .partUncommitted:
            // As `append` leaves it when killed after its first write.
            try NPY.write(Tensor(shape: [2, Self.f], values: Self.rows(4..<6).values),
                          to: files.parts.appendingPathComponent("00000001.npy"))
            committed = Self.rows(0..<4).ids
        case .matrixBeforeMapping, .partsNotRemoved:
            try files.append(Self.rows(4..<6), featureSize: Self.f)
            let oldMapping = Self.bytes(files.mapping)!
            // The join's writes, done in a copy of the parts so they stay as a kill leaves them.
            let saved = folder.url.appendingPathComponent("saved-parts")
            try FileManager.default.copyItem(at: files.parts, to: saved)
            try files.consolidate(featureSize: Self.f)
            try FileManager.default.moveItem(at: saved, to: files.parts)
            if state == .matrixBeforeMapping { try oldMapping.write(to: files.mapping) }
            committed = Self.rows(0..<6).ids
        }
        #expect(try files.ids(featureSize: Self.f) == committed, "\(state)")
        let read = try files.read(featureSize: Self.f)
        #expect(read.values == Self.rows(0..<(committed.count)).values, "\(state): values")
        // The resumed run: what is missing is appended, then the join.
        if state == .partUncommitted { try files.append(Self.rows(4..<6), featureSize: Self.f) }
        try files.consolidate(featureSize: Self.f)
        #expect(Self.bytes(files.matrix) == reference.matrix && Self.bytes(files.mapping) == reference.mapping, "\(state)")
        #expect(!FileManager.default.fileExists(atPath: files.parts.path))
    }

    @Test func joiningTakesInOtherFilesRowsOnceAndOnlyThoseKept() throws {
        let folder = TemporaryFolder("taggan-embeddings-shards")
        let w = folder.url
        let main = EmbeddingFiles(workspace: w, model: "efficientnet-lite0", shard: nil)
        let shard0 = EmbeddingFiles(workspace: w, model: "efficientnet-lite0", shard: try ShardSpec(index: 0, count: 2))
        let shard1 = EmbeddingFiles(workspace: w, model: "efficientnet-lite0", shard: try ShardSpec(index: 1, count: 2))
        try main.append(Self.rows(0..<2), featureSize: Self.f)
        try main.consolidate(featureSize: Self.f)
        try shard0.append(Self.rows(1..<4), featureSize: Self.f)   // image 1 is in the matrix already
        try shard0.consolidate(featureSize: Self.f)
        try shard1.append(Self.rows(4..<7), featureSize: Self.f)   // left as a part: a killed shard run's rows count too
        #expect(EmbeddingFiles.shards(in: w, model: "efficientnet-lite0").map(\.matrix) == [shard0.matrix, shard1.matrix])
        let dropped = Self.rows(5..<6).ids[0]
        let result = try main.consolidate(featureSize: Self.f, extra: [shard0, shard1], keep: { $0 != dropped })
        #expect(result.takenIn == Self.rows(2..<4).ids + Self.rows(4..<5).ids + Self.rows(6..<7).ids)
        let read = try main.read(featureSize: Self.f)
        let expected = [0, 1, 2, 3, 4, 6].map { Self.rows($0 ..< $0 + 1) }
        #expect(read.ids == expected.flatMap(\.ids) && read.values == expected.flatMap(\.values))
        // Again: nothing new, nothing written.
        let before = try FileManager.default.attributesOfItem(atPath: main.matrix.path)[.modificationDate] as? Date
        #expect(try main.consolidate(featureSize: Self.f, extra: [shard0, shard1], keep: { $0 != dropped }).rows == 6)
        #expect(try FileManager.default.attributesOfItem(atPath: main.matrix.path)[.modificationDate] as? Date == before)
    }

    @Test func aMatrixThatDisagreesWithItsMappingIsAnErrorNamingIt() throws {
        let folder = TemporaryFolder("taggan-embeddings-bad")
        let files = EmbeddingFiles(workspace: folder.url, model: "efficientnet-lite0", shard: nil)
        try files.append(Self.rows(0..<3), featureSize: Self.f)
        try files.consolidate(featureSize: Self.f)
        // Another width.
        #expect(throws: TagganError.self) { try files.read(featureSize: Self.f + 1) }
        // A mapping with more rows than the matrix.
        try (String(contentsOf: files.mapping, encoding: .utf8) + "3\t99\textra.jpg\n").write(to: files.mapping, atomically: true, encoding: .utf8)
        do {
            _ = try files.read(featureSize: Self.f)
            Issue.record("a mapping longer than its matrix was read")
        } catch let error as TagganError {
            #expect("\(error)".contains(files.matrix.path), "\(error)")
        }
        // A truncated matrix, its mapping right.
        let good = Self.rows(0..<3)
        try EmbeddingFiles.mappingText(ids: good.ids, keys: good.keys).write(to: files.mapping, atomically: true, encoding: .utf8)
        #expect(try files.ids(featureSize: Self.f) == good.ids)
        let data = Self.bytes(files.matrix)!
        try data.prefix(data.count - 4).write(to: files.matrix)
        do {
            _ = try files.ids(featureSize: Self.f)
            Issue.record("a truncated matrix was read")
        } catch let error as TagganError {
            #expect("\(error)".contains(files.matrix.path) && "\(error)".contains("bytes"), "\(error)")
        }
    }
}
