import Foundation
import TagganCore

/// The words a model knows, most frequent first, with their corpus counts.
///
/// Order: count descending, then the word's UTF-8 bytes ascending (so ties are stable on
/// every machine). Built from a streaming corpus: memory grows with the number of
/// distinct words, never with the corpus length, and is bounded even for a corpus with
/// hundreds of millions of distinct tokens by pruning while counting (`countingLimit`).
///
///     let vocabulary = try Vocabulary(counting: corpus, minCount: 5)
///     vocabulary.words[0]    // "the"
public struct Vocabulary: Sendable {
    public let words: [String]
    public let counts: [Int]
    /// Tokens in the corpus, including words later dropped by the cutoffs.
    public let corpusTokens: Int
    /// Distinct words before the cutoffs (those that survived pruning, when it happened).
    public let distinctWords: Int
    /// Pruning while counting (word2vec's ReduceVocab) dropped every word whose count so
    /// far was at most this; 0 when it never ran and every count is exact. A word that
    /// was dropped and seen again afterwards is undercounted by what it had before; a
    /// word whose running count always exceeded the threshold (any word frequent
    /// throughout the corpus) is counted exactly.
    public let pruneThreshold: Int
    /// The most distinct words the counting tables held at once, summed over the
    /// parallel parts: at most `countingLimit`.
    public let countingPeak: Int
    @usableFromInline let index: WordTable

    public var count: Int { words.count }
    /// Tokens the trainer will see per epoch: sum of the kept words' counts.
    public var trainingTokens: Int { counts.reduce(0, +) }

    /// Keeps words seen at least `minCount` times, then the `maxSize` most frequent.
    public init(counts raw: [(word: String, count: Int)], minCount: Int = 1, maxSize: Int? = nil,
                corpusTokens: Int? = nil, pruneThreshold: Int = 0, countingPeak: Int? = nil) {
        var kept = raw.filter { $0.count >= minCount }
        kept.sort { a, b in
            a.count != b.count ? a.count > b.count : a.word.utf8.lexicographicallyPrecedes(b.word.utf8)
        }
        if let maxSize, kept.count > maxSize { kept.removeLast(kept.count - maxSize) }
        words = kept.map(\.word)
        counts = kept.map(\.count)
        self.corpusTokens = corpusTokens ?? raw.reduce(0) { $0 + $1.count }
        distinctWords = raw.count
        self.pruneThreshold = pruneThreshold
        self.countingPeak = countingPeak ?? raw.count
        var table = WordTable(capacity: kept.count)
        for word in words {
            var bytes = Array(word.utf8)
            _ = bytes.withUnsafeMutableBufferPointer { table.insert(UnsafeBufferPointer($0)) }
        }
        index = table
    }

    /// word2vec's bound on the words held while counting (0.7 x its 30 M hash slots):
    /// ~40 bytes a word here (bytes, offsets, counts, slots), so ~0.8 GB at most.
    public static let defaultCountingLimit = 21_000_000

    /// Counts every token of `source` in one streaming pass (parts read in parallel and
    /// merged), then applies the cutoffs. Throws when the corpus has no words, or none
    /// reaches `minCount`, naming the corpus.
    ///
    /// Memory stays bounded by `countingLimit` distinct words, as word2vec's ReduceVocab
    /// keeps it (Mikolov et al.'s word2vec.c): when a part's table reaches its share of
    /// the limit (limit / parts), the words counted at most `threshold` times so far are
    /// dropped and `threshold` (starting at 1) goes up by one, repeatedly until at most
    /// half the share remains (so pruning costs O(1) per token, amortised). The merged
    /// table is pruned the same way. `pruneThreshold` says how far it went. Below the
    /// limit nothing is pruned and every count is exact, whatever `threads` is.
    public init(counting source: any SentenceSource, minCount: Int, maxSize: Int? = nil,
                threads: Int = 1, countingLimit: Int = Vocabulary.defaultCountingLimit) throws {
        let parts = source.split(into: max(1, threads))
        let share = max(2, countingLimit / parts.count)
        let tables = UnsafeMutableBufferPointer<WordTable>.allocate(capacity: parts.count)
        tables.initialize(repeating: WordTable(capacity: 0))
        defer { tables.deinitialize(); tables.deallocate() }
        let failures = ErrorBox()
        nonisolated(unsafe) let shared = tables
        Parallel.forEachChunk(parts.count, threads: parts.count) { _, range in
            for part in range {
                var table = WordTable(capacity: min(1 << 16, share))
                do {
                    try parts[part].forEachSentence { sentence in
                        for i in 0..<sentence.count {
                            table.add(sentence[i])
                            if table.count >= share { table.reduce(toAtMost: share / 2) }
                        }
                    }
                } catch {
                    failures.record(error)
                }
                shared[part] = table
            }
        }
        if let error = failures.first { throw error }
        // Every token, the pruned words' included.
        let tokens = tables.reduce(0) { $0 + $1.tokens }
        // The parts' tables were all alive at the end of counting.
        var peak = tables.reduce(0) { $0 + $1.peak }
        // Merged one by one, each part freed once merged; the merged table may hold what
        // the limit leaves beside the parts not yet merged.
        let threshold = tables.map(\.pruneThreshold).max() ?? 0
        var merged = tables[0]
        tables[0] = WordTable(capacity: 0)
        merged.pruneThreshold = threshold
        for part in 1..<max(1, tables.count) {
            let waiting = tables[part...].reduce(0) { $0 + $1.count }
            let budget = max(2, countingLimit - waiting)
            if merged.count >= budget { merged.reduce(toAtMost: budget / 2) }
            merged.resetPeak()
            merged.merge(tables[part], budget: budget)
            peak = max(peak, merged.peak + waiting)
            tables[part] = WordTable(capacity: 0)
        }
        guard tokens > 0 else { throw TagganError.file(source.name, "the corpus holds no words") }
        var raw: [(word: String, count: Int)] = []
        raw.reserveCapacity(merged.count)
        for id in 0..<merged.count {
            raw.append((String(decoding: merged.word(id), as: UTF8.self), merged.counts[id]))
        }
        self.init(counts: raw, minCount: minCount, maxSize: maxSize, corpusTokens: tokens,
                  pruneThreshold: merged.pruneThreshold, countingPeak: peak)
        guard !words.isEmpty else {
            let most = raw.map(\.count).max() ?? 0
            throw TagganError.file(source.name,
                "no word occurs --min-count \(minCount) times (\(raw.count) distinct words, the most frequent occurs \(most) times)")
        }
    }

    /// The id of `word`, if known.
    public func id(of word: String) -> Int? {
        var bytes = Array(word.utf8)
        let found = bytes.withUnsafeMutableBufferPointer { index.find(UnsafeBufferPointer($0)) }
        return found < 0 ? nil : found
    }

    /// The id of a token given as UTF-8 bytes, or -1.
    @inlinable
    public func id(bytes: UnsafeBufferPointer<UInt8>) -> Int { index.find(bytes) }

    /// Probability of keeping each word under word2vec's sub-sampling (Mikolov et al.
    /// 2013, as implemented in word2vec.c and gensim):
    ///
    ///     keep(w) = min(1, (sqrt(c(w) / (t * N)) + 1) * (t * N) / c(w))
    ///
    /// with c(w) the word's count, N the training tokens (`trainingTokens`) and t the
    /// threshold `sample`. `sample` 0 keeps everything. Example: N = 1000, t = 0.01,
    /// c = 40: tN = 10, keep = (sqrt(4) + 1) * 10 / 40 = 0.75.
    public func keepProbabilities(sample: Double) -> [Double] {
        guard sample > 0 else { return [Double](repeating: 1, count: count) }
        let threshold = sample * Double(trainingTokens)
        return counts.map { c in
            min(1, ((Double(c) / threshold).squareRoot() + 1) * threshold / Double(c))
        }
    }
}

/// Collects the first error thrown by parallel workers.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var errors: [Error] = []
    func record(_ error: Error) { lock.lock(); errors.append(error); lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return errors.first }
}

/// A hash table from UTF-8 byte strings to dense ids (insertion order) with counts: all
/// words' bytes in one arena and open addressing over Int32 slots, so lookups allocate
/// nothing and hash the token bytes directly (FNV-1a, 64-bit).
@usableFromInline
struct WordTable: @unchecked Sendable {
    private var arena: [UInt8] = []
    private var starts: [Int] = [0]
    private(set) var counts: [Int] = []
    private var slots: [Int32]
    private var mask: Int
    /// Tokens added (pruned words' included), and the most words held at once.
    private(set) var tokens = 0
    private(set) var peak = 0
    /// Words counted at most this many times were dropped by `reduce` (0: never).
    var pruneThreshold = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { counts.count }

    func word(_ id: Int) -> ArraySlice<UInt8> { arena[starts[id] ..< starts[id + 1]] }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    @inline(__always)
    private func equal(_ id: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[id], length = starts[id + 1] - start
        guard length == bytes.count else { return false }
        return arena.withUnsafeBufferPointer { a in
            length == 0 || memcmp(a.baseAddress! + start, bytes.baseAddress!, length) == 0
        }
    }

    /// Slot holding `bytes`, or the empty slot where it would go.
    @inline(__always)
    private func slot(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var s = Self.hash(bytes) & mask
        while true {
            let id = Int(slots[s])
            if id < 0 || equal(id, bytes) { return s }
            s = (s + 1) & mask
        }
    }

    @usableFromInline
    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        Int(slots[slot(bytes)])
    }

    mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, count: Int = 0) -> Int {
        add(bytes, count: count)
    }

    /// Adds `count` occurrences of `bytes`; returns its id.
    @discardableResult
    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>, count: Int = 1) -> Int {
        let s = slot(bytes)
        let existing = Int(slots[s])
        if existing >= 0 {
            counts[existing] += count
            tokens += count
            return existing
        }
        tokens += count
        let id = counts.count
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        counts.append(count)
        slots[s] = Int32(id)
        if counts.count * 2 > slots.count { grow() }
        peak = max(peak, counts.count)
        return id
    }

    /// word2vec's ReduceVocab: drops the words counted at most `pruneThreshold + 1`
    /// times, raising the threshold by one each round, until at most `target` words
    /// remain. The table is rebuilt, so the dropped words' memory is returned (a rebuild
    /// briefly holds the old table and the new one).
    mutating func reduce(toAtMost target: Int) {
        let added = tokens, held = peak
        var threshold = pruneThreshold
        repeat {
            threshold += 1
            var kept = WordTable(capacity: count)
            arena.withUnsafeBufferPointer { arena in
                for id in 0..<count where counts[id] > threshold {
                    kept.add(UnsafeBufferPointer(rebasing: arena[starts[id] ..< starts[id + 1]]), count: counts[id])
                }
            }
            self = kept
        } while count > target
        tokens = added
        peak = held
        pruneThreshold = threshold
    }

    /// Starts measuring `peak` afresh from the words held now.
    mutating func resetPeak() { peak = count }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for id in 0..<counts.count {
            let bytes = Array(word(id))
            let s = bytes.withUnsafeBufferPointer { slot($0) }
            slots[s] = Int32(id)
        }
    }

    /// Adds `other`'s words and counts, reducing (as `reduce`) whenever the table
    /// reaches `budget` words.
    mutating func merge(_ other: WordTable, budget: Int = .max) {
        other.arena.withUnsafeBufferPointer { arena in
            for id in 0..<other.count {
                add(UnsafeBufferPointer(rebasing: arena[other.starts[id] ..< other.starts[id + 1]]), count: other.counts[id])
                if count >= budget { reduce(toAtMost: budget / 2) }
            }
        }
    }
}
