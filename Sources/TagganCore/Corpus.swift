/// A text corpus that stages read as a stream of tokenised sentences, never as a whole.
///
/// Ingest provides the readers (`TextCorpus` for plain text and one-document-per-line
/// files); SkipGram consumes the protocol, so neither stage imports the other and the
/// executable wires them together. A source can be read any number of times (one pass
/// per epoch) and split into parts that separate threads read at once, as word2vec's
/// threads each read their own byte range of the training file.
public protocol SentenceSource: Sendable {
    /// What to name in messages: a file name, or "a.txt + 2 more".
    var name: String { get }
    /// The bytes this source covers; used to split it into parts of similar size.
    var byteCount: Int { get }
    /// Calls `body` once per sentence, in file order. The sentence's memory is reused
    /// after `body` returns. Errors (unreadable file, invalid UTF-8) name the file.
    func forEachSentence(_ body: (TokenizedSentence) throws -> Void) throws
    /// At most `count` disjoint parts that together yield exactly this source's sentences
    /// (each part ends at a line boundary), for `count` threads to read side by side.
    func split(into count: Int) -> [any SentenceSource]
}

/// One sentence's tokens as UTF-8 bytes, already normalised by the reader (lowercased).
/// The buffers belong to the reader and are only valid inside the callback, so a
/// consumer that keeps words must copy them (`words` does).
public struct TokenizedSentence {
    /// All tokens' bytes, back to back.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// `ends[i]` is the offset in `bytes` just past token i.
    public let ends: UnsafeBufferPointer<Int>

    public init(bytes: UnsafeBufferPointer<UInt8>, ends: UnsafeBufferPointer<Int>) {
        self.bytes = bytes
        self.ends = ends
    }

    public var count: Int { ends.count }

    /// The UTF-8 bytes of token `index`.
    @inlinable
    public subscript(index: Int) -> UnsafeBufferPointer<UInt8> {
        let start = index == 0 ? 0 : ends[index - 1]
        return UnsafeBufferPointer(rebasing: bytes[start ..< ends[index]])
    }

    /// The tokens as Strings (allocates; for tests and small inputs).
    public var words: [String] {
        (0..<count).map { String(decoding: self[$0], as: UTF8.self) }
    }
}

extension SentenceSource {
    /// Every sentence as an array of words (allocates; for tests and small inputs).
    public func allSentences() throws -> [[String]] {
        var sentences: [[String]] = []
        try forEachSentence { sentences.append($0.words) }
        return sentences
    }
}
