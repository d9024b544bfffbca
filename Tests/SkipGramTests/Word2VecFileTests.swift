import Foundation
import TestSupport
import Testing
@testable import SkipGram
import TagganCore

@Suite("word2vec binary and text files")
struct Word2VecFileTests {
    static let sample: WordVectors = {
        let words = ["the", "don't", "café", "naïve", "x1"]
        let special: [Float] = [0, -0.0, 1, -1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-5, 3.1415927,
                                -123456.79, 0.1, 1 / 3, -2e-38]
        var random = SeededRandom(seed: 4)
        var values = special + (0..<(words.count * 4 - special.count)).map { _ in random.uniform(in: -1 ..< 1) }
        values = Array(values.prefix(words.count * 4))
        return WordVectors(words: words, dimension: 4, values: values)
    }()

    static func same(_ a: WordVectors, _ b: WordVectors) -> Bool {
        a.words == b.words && a.dimension == b.dimension
            && a.values.map(\.bitPattern) == b.values.map(\.bitPattern)
    }

    @Test(arguments: [Word2VecFile.Format.binary, .text])
    func roundTripsBitForBit(_ format: Word2VecFile.Format) throws {
        let folder = TemporaryFolder()
        let path = folder.path("v.\(format == .text ? "txt" : "bin")")
        try Word2VecFile.write(Self.sample, to: path, format: format)
        #expect(Self.same(try Word2VecFile.read(path), Self.sample))
        #expect(folder.contents == ["v.\(format == .text ? "txt" : "bin")"], "no temporary file left")
        let text = try String(contentsOfFile: path, encoding: .isoLatin1)
        #expect(text.hasPrefix("5 4\nthe "))
    }

    @Test func readsFilesWrittenByGensim() throws {
        let fixtures = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixtures.appendingPathComponent("gensim-small.json"))) as! [String: Any]
        let words = json["words"] as! [String]
        let rows = json["vectors"] as! [[Double]]
        let expected = WordVectors(words: words, dimension: json["dimension"] as! Int,
                                   values: rows.flatMap { $0.map { Float($0) } })
        #expect(words.contains("café") && json["gensim"] as? String == "4.4.0")
        for name in ["gensim-small.bin", "gensim-small.txt"] {
            let read = try Word2VecFile.read(fixtures.appendingPathComponent(name).path)
            #expect(Self.same(read, expected), "\(name)")
        }
    }

    @Test func readsWord2vecCAndGloVeText() throws {
        let folder = TemporaryFolder()
        // word2vec.c -save text: "%lf " after each value (a trailing space), CRLF tolerated.
        let c = try folder.writePath("c.txt", "2 3\n</s> 0.001000 -0.002000 0.003000 \nking 1.500000 -2.250000 0.000000 \r\n")
        let fromC = try Word2VecFile.read(c)
        #expect(fromC.words == ["</s>", "king"] && fromC.values == [0.001, -0.002, 0.003, 1.5, -2.25, 0])
        // GloVe: no header.
        let glove = try folder.writePath("glove.txt", "the 0.418 0.24968\n, 0.013441 0.23682\n")
        let fromGloVe = try Word2VecFile.read(glove)
        #expect(fromGloVe.words == ["the", ","] && fromGloVe.values == [0.418, 0.24968, 0.013441, 0.23682])
        // word2vec.c binary: a newline after each row.
        var bytes = Array("2 2\n".utf8)
        for (word, values) in [("a", [Float(1), 2]), ("b", [-3, 0.5])] {
            bytes += Array(word.utf8) + [0x20]
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
            bytes.append(0x0A)
        }
        let fromBinary = try Word2VecFile.read(folder.writePath("c.bin", bytes))
        #expect(fromBinary.words == ["a", "b"] && fromBinary.values == [1, 2, -3, 0.5])
    }

    @Test("bad files: each an error naming the file and the problem")
    func badFiles() throws {
        let folder = TemporaryFolder()
        let good = folder.path("good.bin")
        try Word2VecFile.write(Self.sample, to: good, format: .binary)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        let cases: [(String, [UInt8], String)] = [
            ("cut.bin", Array(bytes.prefix(bytes.count - 7)),
             "truncated: the file ends in the values of row 5 of 5 ('x1'; header: 5 rows of 4 values)"),
            ("rows.bin", Array("9 4\n".utf8) + Array(bytes.dropFirst(4)),
             "truncated or wrong header: it promises 9 rows of 4 float32 values (at least 162 bytes) but only 111 bytes follow it"),
            ("dims.bin", Array("5 40\n".utf8) + Array(bytes.dropFirst(4)),
             "truncated or wrong header: it promises 5 rows of 40 float32 values (at least 810 bytes) but only 111 bytes follow it"),
            ("huge.bin", Array("99999999999999999 99999999\n".utf8) + Array(bytes.dropFirst(4)),
             "truncated or wrong header: it promises 99999999999999999 rows of 99999999 float32 values (at least 9223372036854775807 bytes) but only 111 bytes follow it"),
            ("word.bin", Array("1 1\n".utf8) + [0x61, 0xFF, 0x20, 0, 0, 0x80, 0x3F],
             "row 1: the word is not valid UTF-8"),
            ("empty.bin", [], "empty file, not a word-vector file"),
            ("short.txt", Array("3 2\na 1 2\nb 3 4\n".utf8), "truncated: the header promises 3 rows but the file has 2"),
            ("values.txt", Array("2 2\na 1 2\nb 3\n".utf8), "line 3: 'b' has 1 values, expected 2"),
            ("nan.txt", Array("1 2\na 1 --5\n".utf8), "line 2: value 2 of 'a' is not a number"),
            // Headers promising more than memory holds: errors, not an allocation that traps.
            ("rows-huge.txt", Array("99999999999999 4\na 1 2 3 4\n".utf8), "truncated: the header promises 99999999999999 rows but the file has 1"),
            ("dims-huge.txt", Array("3 4611686018427387904\na 1\n".utf8), "line 2: 'a' has 1 values, expected 4611686018427387904"),
            ("nan-value.txt", Array("2 2\na 1 nan\nb 1 2\n".utf8), "row 1 ('a'): value 2 is nan, not a finite number"),
            ("inf-value.txt", Array("2 2\na 1 2\nb inf 2\n".utf8), "row 2 ('b'): value 1 is inf, not a finite number"),
            ("junk.txt", Array("hello\n".utf8),
             "not a word-vector file: the first line is neither 'ROWS DIMENSIONS' nor a word and its values"),
        ]
        for (name, content, reason) in cases {
            let path = try folder.writePath(name, content)
            #expect(throws: TagganError.file(path, reason), "\(name)") { try Word2VecFile.read(path) }
        }
        #expect(throws: TagganError.file(folder.path("none.bin"), "no such file")) {
            try Word2VecFile.read(folder.path("none.bin"))
        }
    }

    /// A word has one vector: a word listed again, in word2vec text, GloVe text or binary,
    /// is an error naming the file, the word, its row and the row it first appeared at.
    /// A repeated word keeps its first row, in every format (the warning that names the
    /// file is checked through the command line: CommandLineTests).
    @Test func aWordListedTwiceKeepsItsFirstRow() throws {
        let folder = TemporaryFolder()
        let cases: [(String, [UInt8], String, [Float])] = [
            ("repeat.txt", Array("3 2\na 1 2\nb 3 4\na 5 6\n".utf8), "a", [1, 2]),
            ("repeat-glove.txt", Array("a 1 2\nb 3 4\nb 5 6\n".utf8), "b", [3, 4]),
            ("repeat.bin", Array("3 1\n".utf8) + [0x61, 0x20, 0, 0, 0x80, 0x3F, 0x0A, 0x62, 0x20, 0, 0, 0, 0x40, 0x0A,
                                                  0x62, 0x20, 0, 0, 0x40, 0x40, 0x0A], "b", [2]),
        ]
        for (name, content, word, first) in cases {
            let vectors = try Word2VecFile.read(try folder.writePath(name, content))
            #expect(vectors.count == 3, "\(name)")
            #expect(vectors.vector(word).map(Array.init) == first, "\(name)")
        }
    }
}
