import Foundation
import TestSupport
import Testing
@testable import Ingest
import TagganCore

@Suite("Text corpus: tokenisation and streaming")
struct TextCorpusTests {
    static let tokenCases: [(String, [String])] = [
        ("The King's men", ["the", "king's", "men"]),
        ("Don't stop-loss 2nd", ["don't", "stop", "loss", "2nd"]),
        ("dogs' 'tis rock''n''roll", ["dogs", "tis", "rock", "n", "roll"]),
        ("it\u{2019}s Café NAÏVE", ["it's", "café", "naïve"]),
        ("C12H25OH, (x)=y; e-mail\tTAB\r\n", ["c12h25oh", "x", "y", "e", "mail", "tab"]),
        ("  ", []),
        ("Ελληνικά ΛΟΓΟΙ", ["ελληνικά", "λογοι"]),
    ]

    @Test("tokens are lowercased letter/digit runs; inner apostrophes stay", arguments: tokenCases)
    func tokenisation(_ text: String, _ expected: [String]) throws {
        #expect(try TextTokenizer.tokens(text) == expected)
    }

    @Test func linesAreSentencesAndParagraphsEndAtBlankLines() throws {
        let folder = TemporaryFolder()
        let path = try folder.writePath("c.txt", "One two\nthree\n\nfour five\n   \nsix")
        let lines = try TextCorpus(paths: [path], layout: .lines).allSentences()
        #expect(lines == [["one", "two"], ["three"], ["four", "five"], ["six"]])
        let paragraphs = try TextCorpus(paths: [path], layout: .paragraphs).allSentences()
        #expect(paragraphs == [["one", "two", "three"], ["four", "five"], ["six"]])
    }

    @Test func longLinesAreCutAtTheSentenceLimit() throws {
        let folder = TemporaryFolder()
        let words = (0..<(TextCorpus.maximumSentenceWords + 5)).map { "w\($0 % 7)" }
        let path = try folder.writePath("long.txt", words.joined(separator: " ") + "\n")
        let sentences = try TextCorpus(paths: [path]).allSentences()
        #expect(sentences.map(\.count) == [TextCorpus.maximumSentenceWords, 5])
        #expect(Array(sentences.joined()) == words)
    }

    /// Parts of a split cover every line exactly once, whatever the cut points, across files.
    @Test func splitPartsTogetherYieldEverySentenceOnce() throws {
        let folder = TemporaryFolder()
        var random = SeededRandom(seed: 3)
        var expected: [[String]] = []
        var paths: [String] = []
        for file in 0..<3 {
            var text = ""
            for line in 0..<(20 + 17 * file) {
                let length = random.index(below: 12)
                let words = (0..<length).map { "f\(file)l\(line)w\($0)" }
                if !words.isEmpty { expected.append(words) }
                text += words.joined(separator: " ") + "\n"
            }
            paths.append(try folder.writePath("part\(file).txt", text))
        }
        let corpus = try TextCorpus(paths: paths)
        #expect(try corpus.allSentences() == expected)
        for parts in 1...9 {
            let split = corpus.split(into: parts)
            #expect(split.count == parts)
            let joined = try split.flatMap { try $0.allSentences() }
            #expect(joined == expected, "split into \(parts)")
        }
    }

    /// Long lines (here from a few bytes on) are read in pieces and shared by the parts
    /// of a split: whatever the line lengths, cut points and part counts, the parts
    /// together yield every token once, in order, and an unsplit read gives the same
    /// sentences as reading each line whole. A text8-like file (one line, no newline)
    /// reaches more than one part.
    @Test func longLinesAreReadInPiecesAndSharedByThePartsOfASplit() throws {
        let folder = TemporaryFolder()
        var random = SeededRandom(seed: 17)
        var paths: [String] = [], lines: [[String]] = []
        for file in 0..<3 {
            var text = ""
            for line in 0..<(4 + random.index(below: 6)) {
                let count = random.index(below: 5) == 0 ? 150 + random.index(below: 300) : random.index(below: 30)
                let words = (0..<count).map { "f\(file)l\(line)w\($0)" + String(repeating: "x", count: random.index(below: 4)) }
                lines.append(words)
                text += words.joined(separator: random.index(below: 3) == 0 ? "  " : " ") + (random.index(below: 4) == 0 ? " \n" : "\n")
            }
            paths.append(try folder.writePath("f\(file).txt", text))
        }
        // A long line with a word longer than a part of the split (no cut byte inside it).
        let longWord = (0..<60).map { $0 == 30 ? "w" + String(repeating: "o", count: 4_000) : "m\($0)" }
        paths.append(try folder.writePath("word.txt", longWord.joined(separator: " ") + "\n"))
        lines.append(longWord)
        let text8 = (0..<2_500).map { "t\($0)" }
        paths.append(try folder.writePath("text8.txt", " " + text8.joined(separator: " ")))
        let expected = Array(lines.joined()) + text8
        for longLine in [16, 40, 64, 200, 5_000] {
            let corpus = try TextCorpus(paths: paths).withLongLines(from: longLine)
            #expect(try corpus.allSentences() == lines.filter { !$0.isEmpty } + [text8], "long lines from \(longLine) bytes")
            for parts in 1...12 {
                let split = corpus.split(into: parts)
                let each = try split.map { try Array($0.allSentences().joined()) }
                #expect(Array(each.joined()) == expected, "long lines from \(longLine) bytes, \(parts) parts")
            }
        }
        // Parts that start and end inside one word of a long line.
        let word = try TextCorpus(paths: [paths[paths.count - 2]]).withLongLines(from: 16)
        for parts in 2...12 {
            #expect(try Array(word.split(into: parts).flatMap { try $0.allSentences().joined() }) == longWord, "\(parts) parts")
        }
        // Alone, the one-line file is shared by every part.
        let alone = try TextCorpus(paths: [paths.last!]).withLongLines(from: 64)
        for parts in 2...12 {
            let each = try alone.split(into: parts).map { try Array($0.allSentences().joined()) }
            #expect(Array(each.joined()) == text8 && each.allSatisfy { !$0.isEmpty }, "\(parts) parts: \(each.map(\.count))")
        }
    }

    @Test func invalidUTF8NamesTheFileAndByte() throws {
        let folder = TemporaryFolder()
        let path = try folder.writePath("bad.txt", Array("good words\nbad ".utf8) + [0xC3, 0x28] + Array(" here\n".utf8))
        #expect(throws: TagganError.file(path, "invalid UTF-8 at byte 15")) {
            try TextCorpus(paths: [path]).allSentences()
        }
        let overlong = try folder.writePath("overlong.txt", [0x61, 0x20, 0xC0, 0xAF])
        #expect(throws: TagganError.file(overlong, "invalid UTF-8 at byte 2")) {
            try TextCorpus(paths: [overlong]).allSentences()
        }
    }

    @Test func missingFilesAndFoldersAreNamed() throws {
        let folder = TemporaryFolder()
        #expect(throws: TagganError.file(folder.path("none.txt"), "no such file")) {
            try TextCorpus(paths: [folder.path("none.txt")])
        }
        #expect(throws: TagganError.file(folder.url.path, "is a directory, not a text file")) {
            try TextCorpus(paths: [folder.url.path])
        }
    }
}

@Suite("YFCC100M metadata and underscores")
struct YFCCCorpusTests {
    @Test func underscoresStayInsideWords() throws {
        #expect(try TextTokenizer.tokens("signs_and_symbols, new_york!") == ["signs_and_symbols", "new_york"])
    }

    @Test func yfccLinesBecomeOneSentenceOfTitleDescriptionAndTags() throws {
        // 23 columns (Webscope): id, nsid, nickname, taken, uploaded, device, title,
        // description, user tags, machine tags, ... ; then a 25-column line (line number
        // and hash first).
        var short = ["6985418911", "4e2f7a26a1", "nick", "2012-03-01", "1330598400", "Canon",
                     "Sunset+over+the+Sea", "A+%22red%22+sky%2C+at+dusk", "sunset,sea,new+york,caf%C3%A9",
                     "", "", "", "", "", "", "", "", "", "", "", "", "", "0"]
        #expect(short.count == 23)
        var long = ["1", "ab12"] + short
        long[8] = "Mountain+Lake"; long[9] = ""; long[10] = "lake,mountains"
        short[6] = "Sunset+over+the+Sea"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-yfcc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("yfcc.tsv")
        try (short.joined(separator: "\t") + "\n" + long.joined(separator: "\t") + "\r\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let corpus = try TextCorpus(paths: [file.path], layout: .yfcc)
        #expect(try corpus.allSentences() == [
            ["sunset", "over", "the", "sea", "a", "red", "sky", "at", "dusk", "sunset", "sea", "new", "york", "café"],
            ["mountain", "lake", "lake", "mountains"],
        ])
    }
}
