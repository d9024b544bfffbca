import Foundation
import TagganCore

extension Vocabulary {
    /// word2vec's `-save-vocab` format: one "word count" line per word, most frequent
    /// first, written atomically.
    public func write(to url: URL) throws {
        var text = ""
        for (word, count) in zip(words, counts) { text += "\(word) \(count)\n" }
        try AtomicFile.write(text, to: url)
    }
}
