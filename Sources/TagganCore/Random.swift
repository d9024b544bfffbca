import Foundation

/// A seeded pseudo-random generator (xoshiro256**, Blackman & Vigna 2018) whose
/// streams can be split so that each thread, shard or layer draws its own reproducible
/// sequence.
///
/// The 256-bit state is filled from SplitMix64 started at a mix of `seed` and `stream`,
/// the seeding the xoshiro authors recommend; distinct (seed, stream) pairs give
/// distinct states. Same seed and stream, same numbers, on every machine.
///
///     var random = SeededRandom(seed: 42)
///     let u = random.uniform()              // in [0, 1)
///     var worker = random.split(stream: 3)  // independent of `random`
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    /// The seed and stream this generator started from (for `split`).
    public let seed: UInt64
    public let stream: UInt64
    /// Box-Muller makes two normal values at a time; the second waits here.
    private var spareGaussian: Float?

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        var mixer = seed ^ (stream &* 0xD1B5_4A32_D192_ED03) ^ 0x5851_F42D_4C95_7F2D
        func next() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = next(); s1 = next(); s2 = next(); s3 = next()
    }

    /// An independent generator for sub-stream `index` of this generator's seed: the
    /// same (seed, stream, index) gives the same generator wherever it is made, so work
    /// split over threads reproduces whatever the scheduling.
    public func split(stream index: UInt64) -> SeededRandom {
        SeededRandom(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15), stream: index &+ 1)
    }

    @inline(__always)
    private static func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotate(s3, 45)
        return result
    }

    /// Writes the next `count` values of `next()` to `bits`, in order: the same numbers
    /// as `count` calls, without a call per value across modules.
    public mutating func fill(_ bits: UnsafeMutablePointer<UInt64>, count: Int) {
        for i in 0..<count { bits[i] = next() }
    }

    /// Uniform in [0, 1) with 24 random bits (every representable step of Float there).
    @inline(__always)
    public mutating func uniform() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// Uniform in `range`.
    @inline(__always)
    public mutating func uniform(in range: Range<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }

    /// Uniform integer in 0..<bound (Lemire's nearly-divisionless method, unbiased).
    @inline(__always)
    public mutating func index(below bound: Int) -> Int {
        Int(truncatingIfNeeded: next(upperBound: UInt64(bound)))
    }

    /// A standard normal value (Box-Muller: sqrt(-2 ln u1) * cos(2 pi u2), and sin for
    /// the spare), with u1 in (0, 1] so the logarithm is finite.
    public mutating func gaussian() -> Float {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        let u1 = 1 - Double(next() >> 11) * 0x1p-53
        let u2 = Double(next() >> 11) * 0x1p-53
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareGaussian = Float(radius * Foundation.sin(angle))
        return Float(radius * Foundation.cos(angle))
    }

    public mutating func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, in range: Range<Float>) {
        for i in buffer.indices { buffer[i] = uniform(in: range) }
    }

    public mutating func fillGaussian(_ buffer: UnsafeMutableBufferPointer<Float>,
                                      mean: Float = 0, deviation: Float = 1) {
        for i in buffer.indices { buffer[i] = mean + deviation * gaussian() }
    }

    /// Fisher-Yates shuffle in place.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, index(below: i + 1))
        }
    }
}
