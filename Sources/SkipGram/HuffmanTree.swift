/// Binary codes for hierarchical softmax (Morin & Bengio 2005; Mikolov et al. 2013):
/// a Huffman tree over word counts, so frequent words get short paths. Word w's
/// probability is the product over its path of sigma(+-v_node . v_input), the sign given
/// by the code bit. Inner nodes are numbered 0..<V-1 (the root is V-2) and index rows of
/// the output matrix.
public struct HuffmanTree: Sendable {
    /// codes[w][d]: the branch (0 or 1) taken at depth d on the path to word w.
    public let codes: [[UInt8]]
    /// points[w][d]: the inner node visited at depth d (root first).
    public let points: [[Int32]]

    public init(counts: [Int]) {
        let n = counts.count
        guard n > 1 else {
            codes = [[0]]
            points = [[0]]
            return
        }
        // Two-queue construction: leaves sorted by count ascending, inner nodes are made
        // in ascending order of weight, so the two lightest are always at a queue front.
        let leaves = (0..<n).sorted { counts[$0] != counts[$1] ? counts[$0] < counts[$1] : $0 > $1 }
        var weight = [Int](repeating: 0, count: 2 * n - 1)
        var parent = [Int](repeating: -1, count: 2 * n - 1)
        var branch = [UInt8](repeating: 0, count: 2 * n - 1)
        // Node ids: leaves are words 0..<n, inner node k is n + k.
        for w in 0..<n { weight[w] = counts[w] }
        var leafFront = 0, innerFront = n, innerNext = n
        func takeLightest() -> Int {
            if leafFront < n && (innerFront >= innerNext || weight[leaves[leafFront]] <= weight[innerFront]) {
                leafFront += 1
                return leaves[leafFront - 1]
            }
            innerFront += 1
            return innerFront - 1
        }
        while innerNext < 2 * n - 1 {
            let a = takeLightest(), b = takeLightest()
            weight[innerNext] = weight[a] + weight[b]
            parent[a] = innerNext
            parent[b] = innerNext
            branch[b] = 1
            innerNext += 1
        }
        var codes: [[UInt8]] = [], points: [[Int32]] = []
        for w in 0..<n {
            var code: [UInt8] = [], point: [Int32] = []
            var node = w
            while parent[node] >= 0 {
                code.append(branch[node])
                point.append(Int32(parent[node] - n))
                node = parent[node]
            }
            codes.append(code.reversed())
            points.append(point.reversed())
        }
        self.codes = codes
        self.points = points
    }
}
