import Foundation
import TagganCore

/// Draws negative samples from the unigram distribution raised to the 3/4 power
/// (Mikolov et al. 2013): P(w) = c(w)^0.75 / sum_v c(v)^0.75.
///
/// word2vec fills a 10^8-entry table with word ids in proportion to P; Walker's alias
/// method (Vose's construction) draws from exactly P in O(1) with two arrays the size of
/// the vocabulary, which stay in cache. Each draw uses one 64-bit random number: the high
/// 32 bits pick a column, the low 32 bits decide between the column and its alias.
public struct NoiseDistribution: Sendable {
    /// Probability (scaled to 2^32) of keeping column i rather than its alias.
    private let threshold: [UInt32]
    private let alias: [Int32]
    /// The exact sampling probabilities, for tests.
    public let probabilities: [Double]

    public init(counts: [Int], power: Double = 0.75) {
        let n = counts.count
        precondition(n > 0, "noise distribution over an empty vocabulary")
        let weights = counts.map { Foundation.pow(Double($0), power) }
        let total = weights.reduce(0, +)
        probabilities = weights.map { $0 / total }
        var scaled = probabilities.map { $0 * Double(n) }
        var threshold = [UInt32](repeating: UInt32.max, count: n)
        var alias = (0..<n).map { Int32($0) }
        var small: [Int] = [], large: [Int] = []
        for i in 0..<n { if scaled[i] < 1 { small.append(i) } else { large.append(i) } }
        while let s = small.popLast(), let l = large.last {
            threshold[s] = UInt32(min(Double(UInt32.max), (scaled[s] * 4_294_967_296).rounded(.down)))
            alias[s] = Int32(l)
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 {
                large.removeLast()
                small.append(l)
            }
        }
        // Leftovers are 1 up to rounding: always keep their own column.
        self.threshold = threshold
        self.alias = alias
    }

    @inline(__always)
    public func draw(_ random: inout SeededRandom) -> Int {
        let r = random.next()
        let column = Int(((r >> 32) &* UInt64(threshold.count)) >> 32)
        return UInt32(truncatingIfNeeded: r) < threshold[column] ? column : Int(alias[column])
    }
}
