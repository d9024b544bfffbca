/// A dense, row-major array of `Float` with a shape.
///
/// A rank-2 tensor with shape [rows, columns] is the matrix most of taggan works with:
/// one row per image, word or example. Storage is a Swift array, so copies are cheap
/// until written (copy-on-write).
///
///     var x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
///     x[1, 2]          // 6
///     x.rows           // 2, x.columns == 3
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    /// The values in row-major order; `storage.count == shape.reduce(1, *)`.
    ///
    /// A plain stored array sits behind it: a `didSet` that reads `oldValue` would make
    /// every in-place mutation (subscript, `withUnsafeMutableBufferPointer`,
    /// `assignProduct`) copy the whole array first, because the old value must survive
    /// the write. `_modify` yields the array itself and checks the size afterwards.
    public var storage: [Float] {
        get { values }
        _modify {
            let count = values.count
            yield &values
            precondition(values.count == count, "storage size is fixed by the shape")
        }
    }
    @usableFromInline var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(values.count == shape.reduce(1, *),
                     "\(values.count) values do not fill shape \(shape)")
        self.shape = shape
        self.values = values
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, values: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    public init(zeros shape: [Int]) { self.init(shape: shape, repeating: 0) }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    /// The first dimension (1 for a scalar).
    public var rows: Int { shape.first ?? 1 }
    /// The product of all dimensions but the first: the length of one row.
    public var columns: Int { shape.dropFirst().reduce(1, *) }

    public subscript(index: Int) -> Float {
        get { values[index] }
        set { values[index] = newValue }
    }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// One row as an array (a copy).
    public func row(_ index: Int) -> [Float] {
        Array(storage[index * columns ..< (index + 1) * columns])
    }

    /// The same values with another shape of the same size.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, values: storage)
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try values.withUnsafeMutableBufferPointer(body)
    }

    /// Gives the tensor `newShape`, keeping its storage's capacity: a buffer that
    /// alternates between sizes (a layer's output for 300 rows in one pass and 100 in the
    /// next) is allocated once, at its largest, instead of on every change. When the size
    /// changes every value is reset to 0; otherwise the values are kept.
    public mutating func resize(to newShape: [Int]) {
        let newCount = newShape.reduce(1, *)
        if newCount != values.count {
            values.removeAll(keepingCapacity: true)
            values.append(contentsOf: repeatElement(0, count: newCount))
        }
        shape = newShape
    }

    public var description: String {
        let preview = storage.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", ..." : "")])"
    }

    // MARK: Random initialisation

    /// Values drawn uniformly from `range`.
    public static func uniform(shape: [Int], in range: Range<Float>,
                               using random: inout SeededRandom) -> Tensor {
        var t = Tensor(zeros: shape)
        t.withUnsafeMutableBufferPointer { random.fillUniform($0, in: range) }
        return t
    }

    /// Values drawn from a normal distribution N(mean, deviation^2).
    public static func gaussian(shape: [Int], mean: Float = 0, deviation: Float = 1,
                                using random: inout SeededRandom) -> Tensor {
        var t = Tensor(zeros: shape)
        t.withUnsafeMutableBufferPointer { random.fillGaussian($0, mean: mean, deviation: deviation) }
        return t
    }
}

// MARK: - Matrix products

extension Tensor {
    /// self = alpha * op(a) * op(b) + beta * self, through BLAS sgemm.
    ///
    /// `a` and `b` are read as matrices (rows x columns); op transposes when asked.
    /// `self` must already have shape [op(a).rows, op(b).columns] unless beta is 0, in
    /// which case it is reshaped (and reallocated if its size differs).
    public mutating func assignProduct(
        _ a: Tensor, _ b: Tensor,
        transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0
    ) {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let kB = transposeB ? b.columns : b.rows
        let n = transposeB ? b.rows : b.columns
        precondition(k == kB, "inner dimensions differ: op(a) is \(m)x\(k), op(b) is \(kB)x\(n)")
        if beta == 0 {
            if count != m * n { self = Tensor(zeros: [m, n]) } else { shape = [m, n] }
        } else {
            precondition(rows == m && columns == n,
                         "accumulating into shape \(shape), product is \(m)x\(n)")
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(
                        transposeA ? .transposed : .none, transposeB ? .transposed : .none,
                        m: m, n: n, k: k, alpha: alpha,
                        a: pa.baseAddress!, lda: a.columns,
                        b: pb.baseAddress!, ldb: b.columns,
                        beta: beta, c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// op(a) * op(b) as a new matrix.
    public static func matmul(_ a: Tensor, _ b: Tensor,
                              transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        var c = Tensor(zeros: [0])
        c.assignProduct(a, b, transposeA: transposeA, transposeB: transposeB)
        return c
    }
}

// MARK: - Element-wise arithmetic (vectorised through `VectorKernels`)

extension Tensor {
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = lhs
        result += rhs
        return result
    }

    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = lhs
        result.addScaled(rhs, by: -1)
        return result
    }

    public static func += (lhs: inout Tensor, rhs: Tensor) { lhs.addScaled(rhs, by: 1) }

    /// self += factor * other (BLAS axpy's job, done with SIMD).
    public mutating func addScaled(_ other: Tensor, by factor: Float) {
        precondition(shape == other.shape, "shapes differ: \(shape) and \(other.shape)")
        other.withUnsafeBufferPointer { x in
            withUnsafeMutableBufferPointer { y in VectorKernels.axpy(factor, x, y) }
        }
    }

    /// Multiplies every value by `factor`.
    public mutating func scale(by factor: Float) {
        withUnsafeMutableBufferPointer { VectorKernels.scale($0, by: factor) }
    }

    /// Element-wise (Hadamard) product.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "shapes differ: \(lhs.shape) and \(rhs.shape)")
        var result = lhs
        rhs.withUnsafeBufferPointer { x in
            result.withUnsafeMutableBufferPointer { y in VectorKernels.multiply(y, by: x) }
        }
        return result
    }

    /// Sum of all values (accumulated in Float over 16 lanes, then added).
    public func sum() -> Float { withUnsafeBufferPointer { VectorKernels.sum($0) } }
}
