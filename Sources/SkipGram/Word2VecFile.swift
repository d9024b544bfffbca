import Foundation
import TagganCore

/// The word2vec file formats (Mikolov's word2vec.c), which gensim's
/// `KeyedVectors.load_word2vec_format` and most tools read:
///
/// - text:   "ROWS DIMENSIONS\n", then per word "word v1 v2 ... vD\n";
/// - binary: the same header, then per word "word " followed by D little-endian float32
///           values and "\n" (word2vec.c writes the newline; gensim does not, and both
///           readers skip newlines before a word, as this one does).
///
/// Reading also accepts GloVe's text files, which have no header line (the row count is
/// the number of lines, the dimension one less than the fields of the first line).
/// Text values are written as the shortest decimal that reads back to the same float,
/// so text files round-trip exactly.
public enum Word2VecFile {
    public enum Format: String, Sendable, CaseIterable {
        case binary, text
    }

    /// The format a path's extension suggests: ".txt", ".vec", ".text" mean text.
    public static func format(forPath path: String) -> Format {
        let ext = (path as NSString).pathExtension.lowercased()
        return ["txt", "vec", "text"].contains(ext) ? .text : .binary
    }

    /// Writes atomically (temporary file renamed into place).
    public static func write(_ vectors: WordVectors, to path: String, format: Format) throws {
        for word in vectors.words where word.isEmpty || word.contains(where: { $0 == " " || $0 == "\n" }) {
            throw TagganError.file(path, "cannot write the word '\(word)': words must be non-empty without spaces or newlines")
        }
        try AtomicFile.write(to: URL(fileURLWithPath: path)) { handle in
            var out: [UInt8] = []
            out.reserveCapacity(1 << 21)
            out.append(contentsOf: "\(vectors.count) \(vectors.dimension)\n".utf8)
            let dimension = vectors.dimension
            try vectors.values.withUnsafeBufferPointer { values in
                for (row, word) in vectors.words.enumerated() {
                    out.append(contentsOf: word.utf8)
                    let slice = UnsafeBufferPointer(rebasing: values[row * dimension ..< (row + 1) * dimension])
                    switch format {
                    case .binary:
                        out.append(0x20)
                        #if _endian(big)
                        for value in slice { withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                        #else
                        out.append(contentsOf: UnsafeRawBufferPointer(slice))
                        #endif
                    case .text:
                        for value in slice {
                            out.append(0x20)
                            out.append(contentsOf: value.description.utf8)
                        }
                    }
                    out.append(0x0A)
                    if out.count >= 1 << 20 {
                        try handle.write(contentsOf: out)
                        out.removeAll(keepingCapacity: true)
                    }
                }
            }
            try handle.write(contentsOf: out)
        }
    }

    /// Reads a word2vec binary or text file, or a GloVe text file (the format is found
    /// from the content). Errors name the file and say what is wrong and where.
    public static func read(_ path: String) throws -> WordVectors {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw TagganError.file(path, FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file")
        }
        var bytes = [UInt8](data)
        bytes.append(0)  // strtof stops at the terminator
        return try bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(path: path, bytes: UnsafeBufferPointer(rebasing: buffer[0 ..< buffer.count - 1]))
            return try parser.parse()
        }
    }

    private struct Parser {
        let path: String
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(path: String, bytes: UnsafeBufferPointer<UInt8>) {
            self.path = path
            self.bytes = bytes
        }

        func fail(_ reason: String) -> TagganError { TagganError.file(path, reason) }

        /// A file's rows as read, before they are checked.
        typealias Rows = (words: [String], dimension: Int, values: [Float])

        /// The file's vectors, every value finite: a NaN or infinity (text "nan", or
        /// such bits in a binary file) is an error naming its row, not a word whose
        /// similarities are all NaN. A word listed again keeps its first row, and the file
        /// is named in a warning with how many repeat and the first repeat's rows: some
        /// published sets list a few words twice (GloVe 840B), and refusing them would
        /// leave them unusable; gensim too keeps the first and warns.
        mutating func parse() throws -> WordVectors {
            let (words, dimension, values) = try parseRows()
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                let row = bad / dimension
                throw fail("row \(row + 1) ('\(words[row])'): value \(bad % dimension + 1) is \(values[bad]), not a finite number")
            }
            var index: [String: Int] = [:]
            index.reserveCapacity(words.count)
            var repeats = 0, firstRepeat: (row: Int, first: Int)?
            for (row, word) in words.enumerated() {
                if let first = index[word] {
                    repeats += 1
                    if firstRepeat == nil { firstRepeat = (row, first) }
                } else {
                    index[word] = row
                }
            }
            if let (row, first) = firstRepeat {
                Log.warning("\(path): \(repeats) row\(repeats == 1 ? "" : "s") repeat\(repeats == 1 ? "s" : "") a word listed before "
                            + "(the first: row \(row + 1) '\(words[row])', first at row \(first + 1)); each word keeps its first row")
            }
            return WordVectors(words: words, dimension: dimension, values: values, index: index)
        }

        mutating func parseRows() throws -> Rows {
            guard !bytes.isEmpty else { throw fail("empty file, not a word-vector file") }
            let firstLineEnd = bytes.firstIndex(of: 0x0A) ?? bytes.count
            let fields = String(decoding: bytes[0 ..< firstLineEnd], as: UTF8.self)
                .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.count == 2, let rows = Int(fields[0]), let dimension = Int(fields[1]) {
                guard rows >= 0, dimension > 0 else {
                    throw fail("header says \(rows) rows of \(dimension) dimensions")
                }
                position = firstLineEnd + 1
                return looksBinary(dimension: dimension)
                    ? try parseBinary(rows: rows, dimension: dimension)
                    : try parseText(rows: rows, dimension: dimension, firstLine: 2)
            }
            // GloVe: no header; every line is a word and its values.
            guard fields.count >= 2 else {
                throw fail("not a word-vector file: the first line is neither 'ROWS DIMENSIONS' nor a word and its values")
            }
            return try parseText(rows: nil, dimension: fields.count - 1, firstLine: 1)
        }

        /// A text row holds only number characters between the word and the line's end;
        /// the first binary float almost never does.
        func looksBinary(dimension: Int) -> Bool {
            var i = position
            while i < bytes.count && bytes[i] != 0x20 && bytes[i] != 0x0A { i += 1 }
            let end = dimension >= bytes.count ? bytes.count : min(bytes.count, i + 1 + dimension * 4)
            let textual = Set(Array("0123456789+-.eEinfaINFA \t\r".utf8))
            var j = min(i + 1, end)
            while j < end && bytes[j] != 0x0A {
                if !textual.contains(bytes[j]) { return true }
                j += 1
            }
            return false
        }

        func word(_ range: Range<Int>, row: Int) throws -> String {
            guard let word = String(validating: bytes[range], as: UTF8.self) else {
                throw fail("row \(row + 1): the word is not valid UTF-8")
            }
            guard !word.isEmpty else { throw fail("row \(row + 1): empty word") }
            return word
        }

        mutating func parseBinary(rows: Int, dimension: Int) throws -> Rows {
            // Each row needs at least a one-byte word, a space and the values.
            let (rowBytes, wide) = dimension.multipliedReportingOverflow(by: 4)
            let (need, long) = rows.multipliedReportingOverflow(by: wide ? Int.max : rowBytes + 2)
            let overflow = wide || long
            let available = bytes.count - position
            if overflow || need > available {
                throw fail("truncated or wrong header: it promises \(rows) rows of \(dimension) float32 values (at least \(overflow ? Int.max : need) bytes) but only \(available) bytes follow it")
            }
            var words: [String] = []
            words.reserveCapacity(rows)
            var values = [Float](repeating: 0, count: rows * dimension)
            try values.withUnsafeMutableBytes { out in
                for row in 0..<rows {
                    while position < bytes.count && (bytes[position] == 0x0A || bytes[position] == 0x0D) { position += 1 }
                    let start = position
                    while position < bytes.count && bytes[position] != 0x20 { position += 1 }
                    guard position < bytes.count else {
                        throw fail("truncated: the file ends in row \(row + 1) of \(rows) (header: \(rows) rows of \(dimension) values)")
                    }
                    words.append(try word(start ..< position, row: row))
                    position += 1
                    guard position + dimension * 4 <= bytes.count else {
                        throw fail("truncated: the file ends in the values of row \(row + 1) of \(rows) ('\(words.last!)'; header: \(rows) rows of \(dimension) values)")
                    }
                    UnsafeMutableRawBufferPointer(rebasing: out[row * dimension * 4 ..< (row + 1) * dimension * 4])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[position ..< position + dimension * 4]))
                    position += dimension * 4
                }
            }
            #if _endian(big)
            values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
            #endif
            return (words, dimension, values)
        }

        mutating func parseText(rows: Int?, dimension: Int, firstLine: Int) throws -> Rows {
            var words: [String] = []
            // Sized from the header only as far as the bytes left could hold.
            let room = (bytes.count - position) / 2
            words.reserveCapacity(min(rows ?? 0, room))
            var values: [Float] = []
            values.reserveCapacity(min((rows ?? 0).multipliedReportingOverflow(by: dimension).partialValue, room))
            var line = firstLine
            let base = bytes.baseAddress!
            while position < bytes.count {
                let lineStart = position
                while position < bytes.count && bytes[position] != 0x0A { position += 1 }
                let lineEnd = position
                position += 1
                defer { line += 1 }
                var i = lineStart
                while i < lineEnd && bytes[i] != 0x20 && bytes[i] != 0x09 { i += 1 }
                if i == lineStart && lineEnd - lineStart <= 1 { continue }  // blank line
                if let rows, words.count >= rows {
                    throw fail("line \(line): more rows than the header's \(rows)")
                }
                words.append(try word(lineStart ..< i, row: words.count))
                for d in 0..<dimension {
                    while i < lineEnd && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
                    guard i < lineEnd else {
                        throw fail("line \(line): '\(words.last!)' has \(d) values, expected \(dimension)")
                    }
                    var end: UnsafeMutablePointer<CChar>? = nil
                    let start = UnsafeMutableRawPointer(mutating: base + i).assumingMemoryBound(to: CChar.self)
                    let value = strtof(start, &end)
                    let consumed = end.map { UnsafeRawPointer($0) - UnsafeRawPointer(start) } ?? 0
                    guard consumed > 0, i + consumed <= lineEnd,
                          i + consumed == lineEnd || [0x20, 0x09, 0x0D].contains(bytes[i + consumed]) else {
                        throw fail("line \(line): value \(d + 1) of '\(words.last!)' is not a number")
                    }
                    values.append(value)
                    i += consumed
                }
                while i < lineEnd && (bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D) { i += 1 }
                guard i == lineEnd else {
                    throw fail("line \(line): '\(words.last!)' has more than \(dimension) values")
                }
            }
            if let rows, words.count != rows {
                throw fail("truncated: the header promises \(rows) rows but the file has \(words.count)")
            }
            return (words, dimension, values)
        }
    }
}
