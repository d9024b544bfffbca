import Foundation
import TagganCore

/// Exact cosine nearest neighbours as blocked matrix products: rows are L2-normalised
/// once, a block of queries times the transposed base gives all similarities (a
/// row-stable product, so a query's similarities, and so its neighbours, do not depend on
/// the other queries), and a bounded min-heap keeps each query's top k. Memory is one
/// block of `blockRows` x base.rows similarities.
public struct CosineIndex: Sendable {
    /// L2-normalised rows of the base set (zero rows stay zero: similarity 0).
    public let base: Tensor

    public init(_ vectors: consuming Tensor) {
        base = Self.normalisedRows(consume vectors)
    }

    /// Each row divided by its L2 norm. `matrix` is taken, so a caller that hands over its
    /// only reference (`consume`, or a temporary) has it scaled in place, not copied.
    public static func normalisedRows(_ matrix: consuming Tensor) -> Tensor {
        var result = consume matrix
        let columns = result.columns, rows = result.rows
        result.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<rows {
                let p = buffer.baseAddress! + row * columns
                let norm = VectorKernels.dot(p, p, count: columns).squareRoot()
                if norm > 0 {
                    VectorKernels.scale(UnsafeMutableBufferPointer(start: p, count: columns), by: 1 / norm)
                }
            }
        }
        return result
    }

    /// The k most similar base rows for every query row: (index, cosine), best first;
    /// ties go to the lower index. `exclude(query, baseIndex)` removes candidates (e.g.
    /// the query itself when the base and queries are the same set).
    /// `threads`: the product's workers (1 inside a caller's own parallel loop).
    public func nearest(_ queries: Tensor, k: Int, blockRows: Int = 256, threads: Int = Parallel.defaultThreads,
                        exclude: ((Int, Int) -> Bool)? = nil) -> [[(index: Int, similarity: Float)]] {
        precondition(queries.columns == base.columns, "queries have \(queries.columns) columns, base \(base.columns)")
        let normalised = Self.normalisedRows(queries)
        var result = [[(index: Int, similarity: Float)]](repeating: [], count: queries.rows)
        var block = Tensor(zeros: [0])
        var start = 0
        while start < queries.rows {
            let rows = min(blockRows, queries.rows - start)
            let slice = Tensor(shape: [rows, queries.columns],
                               values: Array(normalised.storage[start * queries.columns ..< (start + rows) * queries.columns]))
            block.assignRowStableProduct(slice, base, transposeB: true, threads: threads)
            block.withUnsafeBufferPointer { similarities in
                for r in 0..<rows {
                    let query = start + r
                    let row = UnsafeBufferPointer(rebasing: similarities[r * base.rows ..< (r + 1) * base.rows])
                    result[query] = TopK.select(row, k: k) { exclude?(query, $0) ?? false }
                }
            }
            start += rows
        }
        return result
    }
}

/// Partial selection of the k largest values with a bounded min-heap: O(n log k).
public enum TopK {
    public static func select(_ values: UnsafeBufferPointer<Float>, k: Int,
                              skip: (Int) -> Bool = { _ in false }) -> [(index: Int, similarity: Float)] {
        guard k > 0 else { return [] }
        var heap: [(index: Int, similarity: Float)] = []
        heap.reserveCapacity(k)
        // Worse = smaller value, or equal value with the larger index.
        func worse(_ a: (index: Int, similarity: Float), _ b: (index: Int, similarity: Float)) -> Bool {
            a.similarity != b.similarity ? a.similarity < b.similarity : a.index > b.index
        }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, worse(heap[l], heap[m]) { m = l }
                if r < heap.count, worse(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for (i, value) in values.enumerated() {
            if value.isNaN || skip(i) { continue }
            let candidate = (index: i, similarity: value)
            if heap.count < k {
                heap.append(candidate)
                var c = heap.count - 1
                while c > 0 {
                    let parent = (c - 1) / 2
                    if worse(heap[c], heap[parent]) { heap.swapAt(c, parent); c = parent } else { break }
                }
            } else if worse(heap[0], candidate) {
                heap[0] = candidate
                siftDown(0)
            }
        }
        return heap.sorted { worse($1, $0) }
    }
}
