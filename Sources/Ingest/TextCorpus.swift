import Foundation
import TagganCore

/// Plain-text corpora streamed from disk for word-vector training: never the whole file
/// in memory, any number of passes, and splittable into byte ranges aligned to lines so
/// that each training thread reads its own part (word2vec's scheme).
///
/// Layouts:
/// - `.lines`: one document (sentence) per line, as corpora/ builds english.txt and as
///   gensim's `LineSentence` reads. A context window never crosses a line.
/// - `.paragraphs`: running text; a sentence ends at a blank line.
/// Either way a sentence longer than `maximumSentenceWords` tokens is cut into pieces of
/// that length (gensim's limit, 10,000). A line longer than `longLineBytes` (a corpus
/// such as text8 is one 100 MB line) is read in pieces cut at a space, so memory stays
/// small, and the parts of a split meet inside it at a space rather than at a line
/// start, so every thread trains on its share of it (word2vec's threads too start at a
/// byte offset); without that one thread read the whole line while the others had none.
///
/// Tokenisation (`TextTokenizer`): lowercase, tokens are maximal runs of letters, digits
/// and underscores (so a catalog tag such as "signs_and_symbols", whose inner spaces
/// Ingest turned into underscores, stays one word and gets a vector), and an apostrophe
/// (' or U+2019) between two letters/digits stays inside the token with the ASCII spelling: "Don't stop-loss's 2nd" -> ["don't", "stop", "loss's",
/// "2nd"]. Every other character separates tokens. Gensim trained through the same rule
/// (bench/skipgram_gensim.py applies the equivalent regular expression) sees the same
/// words, so quality comparisons are fair. Invalid UTF-8 is an error naming the file and
/// byte offset.
public struct TextCorpus: SentenceSource {
    public enum Layout: String, Sendable, CaseIterable {
        case lines, paragraphs
        /// YFCC100M's metadata TSV: one photo per line; its title, description and user
        /// tags (URL-encoded, '+' for spaces, tags separated by commas) make one sentence.
        /// Columns 7, 8, 9 of the 23-column Webscope file; 9, 10, 11 when a line has 25 or
        /// more columns (the distribution that adds a line number and a hash first).
        case yfcc
    }

    /// A byte range of one file; the part holds the lines that *start* inside the range.
    public struct Segment: Sendable, Equatable {
        public let path: String
        public let range: Range<Int>
    }

    public static var maximumSentenceWords: Int { 10_000 }
    /// Lines longer than this are long lines (see above): read in pieces, split at spaces.
    public static var longLineBytes: Int { 1 << 20 }

    public let segments: [Segment]
    public let layout: Layout
    /// `longLineBytes`, or a smaller value in tests.
    let longLine: Int
    /// Per file, the offsets at which the parts of the split this corpus is one of start
    /// (none for a corpus not split): where a long line is cut (`read`).
    let partStarts: [String: [Int]]
    /// The files this corpus was opened on, for messages.
    private let paths: [String]

    /// Opens `paths` (checks each is a readable regular file; reading starts later).
    public init(paths: [String], layout: Layout = .lines) throws {
        guard !paths.isEmpty else { throw TagganError.failure("no corpus files given") }
        var segments: [Segment] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw TagganError.file(path, "no such file")
            }
            guard !isDirectory.boolValue else { throw TagganError.file(path, "is a directory, not a text file") }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw TagganError.file(path, "not readable")
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            segments.append(Segment(path: path, range: 0 ..< size))
        }
        self.init(segments: segments, layout: layout, paths: paths, longLine: Self.longLineBytes)
    }

    init(segments: [Segment], layout: Layout, paths: [String], longLine: Int, partStarts: [String: [Int]] = [:]) {
        self.segments = segments
        self.layout = layout
        self.paths = paths
        self.longLine = layout == .yfcc ? Int.max : longLine   // (a YFCC line is one record, never cut)
        self.partStarts = partStarts
    }

    /// This corpus with long lines from `bytes` on (for tests of the long-line rules).
    func withLongLines(from bytes: Int) -> TextCorpus {
        TextCorpus(segments: segments, layout: layout, paths: paths, longLine: bytes)
    }

    public var name: String {
        paths.count == 1 ? paths[0] : "\(paths[0]) + \(paths.count - 1) more"
    }

    public var byteCount: Int { segments.reduce(0) { $0 + $1.range.count } }

    /// Splits the bytes evenly; each part's segments start and end at the same global
    /// offsets, and line ownership (a line belongs to the part holding its first byte)
    /// makes the parts disjoint and complete.
    public func split(into count: Int) -> [any SentenceSource] {
        let total = byteCount
        let parts = max(1, min(count, max(total, 1)))
        var pieceLists: [[Segment]] = []
        for part in 0..<parts {
            let low = total * part / parts, high = total * (part + 1) / parts
            var pieces: [Segment] = []
            var offset = 0
            for segment in segments {
                let start = offset, end = offset + segment.range.count
                offset = end
                let from = max(low, start), to = min(high, end)
                if from < to {
                    let base = segment.range.lowerBound - start
                    pieces.append(Segment(path: segment.path, range: from + base ..< to + base))
                }
            }
            pieceLists.append(pieces)
        }
        var starts: [String: [Int]] = [:]
        for piece in pieceLists.joined() where piece.range.lowerBound > 0 { starts[piece.path, default: []].append(piece.range.lowerBound) }
        return pieceLists.map { TextCorpus(segments: $0, layout: layout, paths: paths, longLine: longLine, partStarts: starts.mapValues { $0.sorted() }) }
    }

    public func forEachSentence(_ body: (TokenizedSentence) throws -> Void) throws {
        var tokenizer = TextTokenizer()
        for segment in segments {
            try read(segment, tokenizer: &tokenizer, body)
        }
        // Paragraph layout: the last paragraph of the last segment has no blank line after it.
        try tokenizer.endSentence(body)
    }

    /// Whether `byte` may end a piece of a long line: a space, tab, CR or LF, so that no
    /// token (nor a UTF-8 sequence) is cut.
    @inline(__always)
    private static func isCut(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }

    /// Reads the lines of `segment` (those starting inside it) into `tokenizer`.
    ///
    /// Where a part of a split starts at offset B inside a line starting at s: when
    /// s <= B - longLine (a long line), that part starts just after the first cut byte
    /// (`isCut`) at or after B, and the part reading the line stops there; otherwise the
    /// line is not this part's. The part reading a line (from its start, or from a cut)
    /// stops at the first part start B past its own start where the line is long, which it
    /// knows from `partStarts`; the part starting at B finds s <= B - longLine as "no
    /// newline in the longLine bytes before B". So every byte is read by one part.
    private func read(_ segment: Segment, tokenizer: inout TextTokenizer,
                      _ body: (TokenizedSentence) throws -> Void) throws {
        let path = segment.path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw TagganError.file(path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var capacity = 1 << 20
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var filled = 0
        var position = segment.range.lowerBound
        let end = segment.range.upperBound
        // The first line of a segment that starts mid-line belongs to the previous part,
        // unless it is a long one: then this part starts after its first cut byte from here.
        var skipping = false, skippingToCut = false
        if position > 0 {
            var previous: UInt8 = 0
            guard pread(descriptor, &previous, 1, off_t(position - 1)) == 1 else {
                throw TagganError.file(path, "read failed at byte \(position - 1)")
            }
            if previous != UInt8(ascii: "\n") {
                if position >= longLine, longLine < Int.max {
                    var before = [UInt8](repeating: 0, count: longLine)
                    guard pread(descriptor, &before, longLine, off_t(position - longLine)) == longLine else {
                        throw TagganError.file(path, "read failed at byte \(position - longLine)")
                    }
                    skippingToCut = !before.contains(UInt8(ascii: "\n"))
                }
                skipping = !skippingToCut
            }
        }
        var bufferOffset = position  // file offset of buffer[0]
        // File offset of the first byte of the line being read (for a line entered after a
        // cut byte, a bound that is enough: it lies at least longLine before this part).
        var lineStart = position
        let laterStarts = (partStarts[path] ?? []).filter { $0 > segment.range.lowerBound }
        // Where the line being read must stop: the first later part start where it is long.
        func stop() -> Int? { longLine == Int.max ? nil : laterStarts.first { lineStart <= $0 - longLine } }
        var stopAt = stop()
        func tokenize(_ start: Int, _ count: Int, endsLine: Bool) throws {
            let piece = UnsafeBufferPointer(start: buffer + start, count: count)
            do {
                if layout == .yfcc {
                    let text = YFCCRecord.sentenceText(piece)
                    try text.withUnsafeBufferPointer { try tokenizer.tokenize(line: $0, layout: .lines, body) }
                } else {
                    try tokenizer.tokenize(line: piece, layout: layout, endsLine: endsLine, body)
                }
            } catch let error as TextTokenizer.InvalidUTF8 {
                throw TagganError.file(path, "invalid UTF-8 at byte \(bufferOffset + start + error.offset)")
            }
        }
        reading: while true {
            if filled == capacity {
                let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                larger.update(from: buffer, count: filled)
                buffer.deallocate()
                buffer = larger
                capacity *= 2
            }
            let got = pread(descriptor, buffer + filled, capacity - filled, off_t(position))
            if got < 0 { throw TagganError.file(path, "read failed: \(String(cString: strerror(errno)))") }
            let atEnd = got == 0
            filled += got
            position += got
            var consumed = 0
            if skippingToCut {
                guard let cut = (0..<filled).first(where: { Self.isCut(buffer[$0]) }) else {
                    if atEnd { break reading }
                    bufferOffset += filled
                    filled = 0
                    continue reading
                }
                consumed = cut + 1
                skippingToCut = false
                lineStart = buffer[cut] == UInt8(ascii: "\n") ? bufferOffset + consumed : segment.range.lowerBound - longLine
                stopAt = stop()
                // A cut byte at or past where this part's share of the line stops: the next
                // part starts after the same byte, and this one has nothing of the line.
                if let stop = stopAt, bufferOffset + cut >= stop, buffer[cut] != UInt8(ascii: "\n") { break reading }
            }
            // Process whole lines; keep a partial last line for the next read.
            while consumed < filled {
                if lineStart >= end { break reading }
                let rest = filled - consumed
                let newline = memchr(buffer + consumed, 0x0A, rest)
                let length = newline.map { $0.assumingMemoryBound(to: UInt8.self) - (buffer + consumed) + 1 } ?? rest
                if skipping {
                    // (the rest of a line that is another part's, read past without keeping it)
                    consumed += length
                    guard newline != nil else { break }
                    skipping = false
                    lineStart = bufferOffset + consumed
                    stopAt = stop()
                    continue
                }
                if let stop = stopAt, bufferOffset + consumed + length > stop {
                    // A long line running on into a later part: up to its first cut byte from there.
                    if let cut = (max(stop - bufferOffset, consumed) ..< consumed + length).first(where: { Self.isCut(buffer[$0]) }) {
                        try tokenize(consumed, cut + 1 - consumed, endsLine: buffer[cut] == UInt8(ascii: "\n"))
                        break reading
                    }
                    if newline == nil && !atEnd { break }   // (the cut byte is further on)
                }
                guard newline != nil || atEnd else { break }
                let start = consumed
                consumed += length
                lineStart = bufferOffset + consumed
                stopAt = stop()
                try tokenize(start, length, endsLine: true)
            }
            if atEnd { break }
            if skipping && bufferOffset + consumed >= end { break }   // (any line starting later is not this part's)
            // A long line's piece so far, up to its last cut byte (before its stop), goes to
            // the tokenizer now, so that the buffer does not grow to the whole line.
            if layout != .yfcc, filled - consumed >= min(longLine, 1 << 20),   // (a YFCC line is one record: never in pieces)
               let cut = (consumed ..< filled).reversed().first(where: { i in Self.isCut(buffer[i]) && stopAt.map { bufferOffset + i < $0 } ?? true }) {
                try tokenize(consumed, cut + 1 - consumed, endsLine: false)
                consumed = cut + 1
            }
            if consumed > 0 {
                let remaining = filled - consumed
                if remaining > 0 { UnsafeMutableRawPointer(buffer).copyMemory(from: buffer + consumed, byteCount: remaining) }
                filled = remaining
                bufferOffset += consumed
            }
        }
        if layout == .lines { try tokenizer.endSentence(body) }
    }
}

/// The tokenisation rule of `TextCorpus` as a reusable state machine over lines of
/// UTF-8. Token bytes go into a buffer that is reused from sentence to sentence, so a
/// pass over a corpus allocates nothing per word.
public struct TextTokenizer {
    struct InvalidUTF8: Error { let offset: Int }

    private var bytes: [UInt8] = []
    private var ends: [Int] = []
    private var tokenStart = 0
    /// An apostrophe seen right after a word character; kept if a word character follows.
    private var pendingApostrophe = false

    public init() {
        bytes.reserveCapacity(1 << 16)
        ends.reserveCapacity(TextCorpus.maximumSentenceWords)
    }

    /// The tokens of `text` (a convenience for tests and documentation).
    public static func tokens(_ text: String) throws -> [String] {
        var tokenizer = TextTokenizer()
        var result: [String] = []
        try Array(text.utf8).withUnsafeBufferPointer { line in
            try tokenizer.tokenize(line: line, layout: .lines) { result += $0.words }
            try tokenizer.endSentence { result += $0.words }
        }
        return result
    }

    /// ASCII classes: 0 separator, 1 letter, digit or underscore, 2 apostrophe.
    @inline(__always)
    private static func asciiClass(_ c: UInt8) -> UInt8 {
        if (c &- 0x30) < 10 || ((c | 0x20) &- 0x61) < 26 || c == 0x5F { return 1 }
        return c == 0x27 ? 2 : 0
    }

    /// `endsLine` false: `line` is a piece of a long line that goes on (it ends at a
    /// space), so its sentence does not end with it.
    mutating func tokenize(line: UnsafeBufferPointer<UInt8>, layout: TextCorpus.Layout, endsLine: Bool = true,
                           _ body: (TokenizedSentence) throws -> Void) throws {
        let tokensBefore = ends.count
        var i = 0
        let n = line.count
        while i < n {
            let byte = line[i]
            if byte < 0x80 {
                switch Self.asciiClass(byte) {
                case 1:
                    appendWordBytes(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                case 2:
                    apostrophe()
                default:
                    try endToken(body)
                }
                i += 1
                continue
            }
            guard let (scalar, length) = Self.decode(line, at: i) else { throw InvalidUTF8(offset: i) }
            i += length
            if scalar.value == 0x2019 {
                apostrophe()
            } else if Self.isWordCharacter(scalar) {
                if scalar.properties.changesWhenLowercased {
                    for b in scalar.properties.lowercaseMapping.utf8 { appendWordBytes(b) }
                } else {
                    var encoded = UTF8.encode(scalar)!.makeIterator()
                    while let b = encoded.next() { appendWordBytes(b) }
                }
            } else {
                try endToken(body)
            }
        }
        try endToken(body)
        guard endsLine else { return }
        switch layout {
        case .lines, .yfcc: try endSentence(body)
        case .paragraphs: if ends.count == tokensBefore && Self.isBlank(line) { try endSentence(body) }
        }
    }

    /// Letters, digits and the marks that combine with them.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark: return true
        default: return false
        }
    }

    private static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    }

    @inline(__always)
    private mutating func appendWordBytes(_ byte: UInt8) {
        if pendingApostrophe {
            pendingApostrophe = false
            bytes.append(0x27)
        }
        bytes.append(byte)
    }

    @inline(__always)
    private mutating func apostrophe() {
        if bytes.count > tokenStart && !pendingApostrophe {
            pendingApostrophe = true
        } else {
            // Leading or doubled apostrophes separate words.
            pendingApostrophe = false
            closeToken()
        }
    }

    @inline(__always)
    private mutating func closeToken() {
        if bytes.count > tokenStart {
            ends.append(bytes.count)
            tokenStart = bytes.count
        }
    }

    @inline(__always)
    private mutating func endToken(_ body: (TokenizedSentence) throws -> Void) throws {
        pendingApostrophe = false
        closeToken()
        if ends.count >= TextCorpus.maximumSentenceWords { try endSentence(body) }
    }

    mutating func endSentence(_ body: (TokenizedSentence) throws -> Void) throws {
        pendingApostrophe = false
        closeToken()
        guard !ends.isEmpty else { return }
        try bytes.withUnsafeBufferPointer { b in
            try ends.withUnsafeBufferPointer { e in
                try body(TokenizedSentence(bytes: b, ends: e))
            }
        }
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        tokenStart = 0
    }

    /// Decodes one UTF-8 scalar at `i` (strict: no overlong forms, surrogates or values
    /// past U+10FFFF), or nil if the bytes there are not valid UTF-8.
    @inline(__always)
    static func decode(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int)? {
        let b0 = UInt32(s[i])
        func continuation(_ k: Int) -> UInt32? {
            guard i + k < s.count, s[i + k] & 0xC0 == 0x80 else { return nil }
            return UInt32(s[i + k] & 0x3F)
        }
        var value: UInt32, length: Int
        switch b0 {
        case 0xC2...0xDF:
            guard let c1 = continuation(1) else { return nil }
            value = (b0 & 0x1F) << 6 | c1; length = 2
        case 0xE0...0xEF:
            guard let c1 = continuation(1), let c2 = continuation(2) else { return nil }
            value = (b0 & 0x0F) << 12 | c1 << 6 | c2; length = 3
            if value < 0x800 || (0xD800...0xDFFF).contains(value) { return nil }
        case 0xF0...0xF4:
            guard let c1 = continuation(1), let c2 = continuation(2), let c3 = continuation(3) else { return nil }
            value = (b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3; length = 4
            if value < 0x10000 || value > 0x10FFFF { return nil }
        default:
            return nil
        }
        guard let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}

/// Reads the text fields of one YFCC100M metadata line (see `TextCorpus.Layout.yfcc`).
enum YFCCRecord {
    /// Title, description and tags, URL-decoded and joined by spaces; commas between
    /// tags become spaces. Bytes only: invalid UTF-8 is left for the tokenizer to report.
    static func sentenceText(_ line: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var end = line.count
        while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
        var fields: [Range<Int>] = []
        var start = 0
        for i in 0..<end where line[i] == 0x09 {
            fields.append(start ..< i)
            start = i + 1
        }
        fields.append(start ..< end)
        let first = fields.count >= 25 ? 8 : 6          // 0-based column of the title
        var out: [UInt8] = []
        for column in first ..< first + 3 where column < fields.count {
            if !out.isEmpty { out.append(0x20) }
            decode(UnsafeBufferPointer(rebasing: line[fields[column]]), into: &out, commasAreSpaces: column == first + 2)
        }
        return out
    }

    /// application/x-www-form-urlencoded: '+' is a space, %XX a byte.
    static func decode(_ field: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], commasAreSpaces: Bool) {
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        var i = 0
        while i < field.count {
            let c = field[i]
            if c == 0x2B {
                out.append(0x20)
            } else if c == 0x25, i + 2 < field.count, let high = hex(field[i + 1]), let low = hex(field[i + 2]) {
                let byte = high << 4 | low
                out.append(commasAreSpaces && byte == 0x2C ? 0x2C : byte)
                i += 2
            } else if c == 0x2C && commasAreSpaces {
                out.append(0x20)
            } else {
                out.append(c)
            }
            i += 1
        }
    }
}
