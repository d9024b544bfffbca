import Foundation
import TagganCore

/// Words and their vectors, row-major (`values[i * dimension ..< (i + 1) * dimension]` is
/// `words[i]`), in the order of the file or vocabulary they came from: for word2vec,
/// gensim and taggan files that is most frequent first.
public struct WordVectors: Sendable {
    public let words: [String]
    public let dimension: Int
    public let values: [Float]
    private let index: [String: Int]

    public init(words: [String], dimension: Int, values: [Float]) {
        precondition(values.count == words.count * dimension, "\(words.count) words x \(dimension) != \(values.count) values")
        self.words = words
        self.dimension = dimension
        self.values = values
        var index: [String: Int] = [:]
        index.reserveCapacity(words.count)
        // A word listed twice keeps its first, most frequent row (as `Word2VecFile`'s
        // index does, which also warns).
        for (i, word) in words.enumerated() where index[word] == nil { index[word] = i }
        self.index = index
    }

    /// With each word's row already known (`Word2VecFile` builds it while looking for
    /// repeated words), so a large vocabulary is hashed once.
    init(words: [String], dimension: Int, values: [Float], index: [String: Int]) {
        precondition(values.count == words.count * dimension && index.count <= words.count,
                     "\(words.count) words (\(index.count) indexed) x \(dimension) != \(values.count) values")
        self.words = words
        self.dimension = dimension
        self.values = values
        self.index = index
    }

    public var count: Int { words.count }

    public func id(of word: String) -> Int? { index[word] }

    public func vector(_ word: String) -> ArraySlice<Float>? {
        id(of: word).map { values[$0 * dimension ..< ($0 + 1) * dimension] }
    }

    /// Rows scaled to unit length (zero rows stay zero), for cosine similarity.
    public func normalizedValues(rows: Int? = nil) -> [Float] {
        let n = min(rows ?? count, count)
        var result = Array(values[0 ..< n * dimension])
        result.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<n {
                let slice = UnsafeMutableBufferPointer(rebasing: buffer[row * dimension ..< (row + 1) * dimension])
                let norm = VectorKernels.dot(UnsafeBufferPointer(slice), UnsafeBufferPointer(slice)).squareRoot()
                if norm > 0 { VectorKernels.scale(slice, by: 1 / norm) }
            }
        }
        return result
    }

    /// The `k` words nearest to `word` by cosine similarity, the word itself excluded;
    /// nil if `word` is unknown.
    public func nearest(to word: String, k: Int) -> [(word: String, similarity: Float)]? {
        guard let id = id(of: word) else { return nil }
        let unit = normalizedValues()
        var scores = [Float](repeating: 0, count: count)
        unit.withUnsafeBufferPointer { m in
            scores.withUnsafeMutableBufferPointer { s in
                BLAS.sgemv(.none, m: count, n: dimension, alpha: 1, a: m.baseAddress!, lda: dimension,
                           x: m.baseAddress! + id * dimension, beta: 0, y: s.baseAddress!)
            }
        }
        return Self.top(k, of: scores, excluding: [id]).map { (words[$0], scores[$0]) }
    }

    /// Indices of the `k` largest scores, best first (ties: lower index first).
    static func top(_ k: Int, of scores: [Float], excluding excluded: Set<Int>) -> [Int] {
        guard k > 0 else { return [] }
        var best: [Int] = []
        best.reserveCapacity(k + 1)
        for (i, score) in scores.enumerated() where !excluded.contains(i) {
            if best.count == k, let last = best.last, scores[last] >= score { continue }
            var position = best.count
            while position > 0 && scores[best[position - 1]] < score { position -= 1 }
            best.insert(i, at: position)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}
