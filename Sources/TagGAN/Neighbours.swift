import Foundation
import TagganCore

/// For every image, its k nearest other images by cosine similarity of embeddings: the
/// IC-GAN neighbourhoods A_i (Casanova et al. 2021), the image itself excluded.
///
/// `indices[i * k ..< (i + 1) * k]` are image i's neighbours, most similar first; equal
/// similarities are ordered by index, so the table is the same on every machine.
public struct NeighbourTable: Sendable, Equatable {
    public let k: Int
    public let indices: [Int32]

    public init(k: Int, indices: [Int32]) {
        precondition(k > 0 && indices.count % k == 0, "\(indices.count) indices do not form rows of \(k)")
        self.k = k
        self.indices = indices
    }

    public var imageCount: Int { indices.count / k }

    public func neighbours(of image: Int) -> ArraySlice<Int32> {
        indices[image * k ..< (image + 1) * k]
    }
}

public enum NeighbourSearch {
    /// Exact k-nearest-neighbour search by cosine similarity.
    ///
    /// Similarities are computed a block of `blockRows` queries at a time as one matrix
    /// product of the block's rows, scaled to unit length, with the embeddings as they are
    /// (block x N, BLAS sgemm); each column is then divided by its row's length, which gives
    /// the cosine, and each query row keeps its k best by insertion into a sorted list of k
    /// (O(N) per row when k << N). Memory: one block x N similarity matrix, the block's
    /// rows and N lengths, and no copy of the embeddings (at 1M x 1280 a unit-length copy
    /// would be another 5 GB). Requires N > k.
    public static func nearest(_ embeddings: Tensor, k: Int, blockRows: Int = 512,
                               threads: Int = Parallel.defaultThreads) -> NeighbourTable {
        let n = embeddings.rows, f = embeddings.columns
        precondition(k > 0 && k < n, "k = \(k) neighbours need more than k images (have \(n))")
        // 1 / length of every row (0 for a zero row, whose similarities are then 0).
        var inverseNorms = [Float](repeating: 0, count: n)
        embeddings.withUnsafeBufferPointer { p in
            for r in 0..<n {
                let row = p.baseAddress! + r * f
                let norm = VectorKernels.dot(row, row, count: f).squareRoot()
                inverseNorms[r] = norm > 0 ? 1 / norm : 0
            }
        }
        var result = [Int32](repeating: 0, count: n * k)
        var similarities = Tensor(zeros: [0])
        var start = 0
        while start < n {
            let rows = min(blockRows, n - start)
            var block = Tensor(shape: [rows, f], values: Array(embeddings.storage[start * f ..< (start + rows) * f]))
            block.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows where inverseNorms[start + r] > 0 {
                    VectorKernels.scale(UnsafeMutableBufferPointer(start: p.baseAddress! + r * f, count: f), by: inverseNorms[start + r])
                }
            }
            similarities.assignProduct(block, embeddings, transposeB: true)
            similarities.withUnsafeMutableBufferPointer { s in
                result.withUnsafeMutableBufferPointer { out in
                    inverseNorms.withUnsafeBufferPointer { inv in
                        nonisolated(unsafe) let sp = s.baseAddress!, op = out.baseAddress!, ip = inv.baseAddress!
                        Parallel.forEach(rows, threads: threads, grain: 16) { r in
                            let row = sp + r * n
                            for j in 0..<n { row[j] *= ip[j] }
                            let query = start + r
                            topK(row, count: n, k: k, excluding: query, into: op + query * k)
                        }
                    }
                }
            }
            start += rows
        }
        return NeighbourTable(k: k, indices: result)
    }

    /// The k largest of `scores[0..<count]` other than index `excluded`, best first,
    /// ties broken by the lower index.
    static func topK(_ scores: UnsafePointer<Float>, count: Int, k: Int, excluding excluded: Int,
                     into out: UnsafeMutablePointer<Int32>) {
        var bestScores = [Float](repeating: -.infinity, count: k)
        var bestIndices = [Int32](repeating: -1, count: k)
        var filled = 0
        for j in 0..<count where j != excluded {
            let s = scores[j].isNaN ? -.infinity : scores[j]
            if filled == k && s <= bestScores[k - 1] { continue }
            // Insert s, keeping the list sorted by score descending; a later index never
            // passes an equal score, so ties keep the lower index first.
            var position = min(filled, k - 1)
            while position > 0 && bestScores[position - 1] < s {
                if position < k {
                    bestScores[position] = bestScores[position - 1]
                    bestIndices[position] = bestIndices[position - 1]
                }
                position -= 1
            }
            bestScores[position] = s
            bestIndices[position] = Int32(j)
            if filled < k { filled += 1 }
        }
        for i in 0..<k { out[i] = bestIndices[i] }
    }

    /// The table for `embeddings`, read from `folder` when an earlier run computed it for
    /// the same embeddings and k, computed and saved there otherwise.
    ///
    /// The file is `neighbours-k<K>-<hash>.npy`, an N x k float32 array of row indices
    /// (exact below 2^24 rows; numpy opens it), where `hash` is an FNV-1a hash of the
    /// embeddings, so changed embeddings never reuse a stale table.
    public static func cached(_ embeddings: Tensor, k: Int, folder: URL) throws -> (table: NeighbourTable, fromCache: Bool) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        embeddings.shape.forEach { hash = (hash ^ UInt64($0)) &* 0x0000_0100_0000_01B3 }
        embeddings.withUnsafeBufferPointer { p in
            for v in p { hash = (hash ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01B3 }
        }
        let url = folder.appendingPathComponent("neighbours-k\(k)-\(String(hash, radix: 16)).npy")
        if FileManager.default.fileExists(atPath: url.path) {
            let stored = try NPY.read(contentsOf: url)
            guard stored.shape == [embeddings.rows, k] else {
                throw TagganError.file(url.path, "neighbour table has shape \(stored.shape), expected [\(embeddings.rows), \(k)]")
            }
            let indices = stored.storage.map { Int32($0) }
            guard indices.allSatisfy({ $0 >= 0 && Int($0) < embeddings.rows }) else {
                throw TagganError.file(url.path, "neighbour table holds indices outside 0..<\(embeddings.rows)")
            }
            return (NeighbourTable(k: k, indices: indices), true)
        }
        let table = nearest(embeddings, k: k)
        precondition(embeddings.rows < 1 << 24, "row indices above 2^24 are not exact in float32")
        try NPY.write(Tensor(shape: [embeddings.rows, k], values: table.indices.map { Float($0) }), to: url)
        return (table, false)
    }
}
