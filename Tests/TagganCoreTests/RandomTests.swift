import Testing
@testable import TagganCore

@Suite("Seeded random numbers")
struct RandomTests {
    @Test func sameSeedSameSequence() {
        var a = SeededRandom(seed: 2024), b = SeededRandom(seed: 2024)
        let first = (0..<1000).map { _ in a.next() }
        let second = (0..<1000).map { _ in b.next() }
        #expect(first == second)
        var c = SeededRandom(seed: 2025)
        #expect((0..<1000).map { _ in c.next() } != first)
    }

    @Test func knownFirstValuesStayFixed() {
        // Pins the algorithm: a change to seeding, to xoshiro256** or to the float
        // conversions changes every experiment's numbers and must be deliberate.
        var random = SeededRandom(seed: 0)
        #expect((0..<3).map { _ in random.next() } == [8_693_092_727_975_520_656, 8_653_620_126_829_869_028, 16_325_385_601_612_799_473])
        var floats = SeededRandom(seed: 0)
        #expect(floats.uniform() == 0.47125345)
        #expect(floats.gaussian() == 0.84414256)
    }

    @Test func splitStreamsAreReproducibleAndDistinct() {
        let parent = SeededRandom(seed: 99)
        var s1 = parent.split(stream: 1), s1again = parent.split(stream: 1), s2 = parent.split(stream: 2)
        let a = (0..<100).map { _ in s1.next() }
        #expect(a == (0..<100).map { _ in s1again.next() })
        #expect(a != (0..<100).map { _ in s2.next() })
        // Drawing from the parent does not change what its splits produce.
        var used = parent
        _ = used.next()
        var s1later = used.split(stream: 1)
        #expect(a == (0..<100).map { _ in s1later.next() })
        // Streams of different seeds differ.
        var other = SeededRandom(seed: 98).split(stream: 1)
        #expect(a != (0..<100).map { _ in other.next() })
    }

    /// Moments over n draws: the standard error of a mean is sigma / sqrt(n); the
    /// tolerances below are about 5 standard errors, so a correct generator fails
    /// with probability below 1e-6 (and the seed is fixed, so it never flakes).
    @Test func uniformMoments() {
        var random = SeededRandom(seed: 7)
        let n = 200_000
        var sum = 0.0, squares = 0.0, low = Float.infinity, high = -Float.infinity
        for _ in 0..<n {
            let u = random.uniform()
            sum += Double(u); squares += Double(u) * Double(u)
            low = min(low, u); high = max(high, u)
        }
        let mean = sum / Double(n), variance = squares / Double(n) - mean * mean
        #expect(abs(mean - 0.5) < 0.0035)                 // sigma 0.289 / sqrt(n) = 0.00065
        #expect(abs(variance - 1.0 / 12) < 0.001)
        #expect(low >= 0 && high < 1)
        #expect(low < 0.001 && high > 0.999)
    }

    @Test func gaussianMoments() {
        var random = SeededRandom(seed: 11)
        let n = 200_000
        var m1 = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0
        for _ in 0..<n {
            let x = Double(random.gaussian())
            m1 += x; m2 += x * x; m3 += x * x * x; m4 += x * x * x * x
        }
        m1 /= Double(n); m2 /= Double(n); m3 /= Double(n); m4 /= Double(n)
        #expect(abs(m1) < 0.012)          // standard error 0.0022
        #expect(abs(m2 - 1) < 0.016)      // sqrt(2/n) = 0.0032
        #expect(abs(m3) < 0.03)           // sqrt(15/n) = 0.0087
        #expect(abs(m4 - 3) < 0.1)        // sqrt(96/n) = 0.022
        var tensorRandom = SeededRandom(seed: 3)
        let t = Tensor.gaussian(shape: [100, 100], mean: 5, deviation: 2, using: &tensorRandom)
        #expect(abs(t.sum() / 10_000 - 5) < 0.1)
    }

    @Test func indexBelowIsUniform() {
        var random = SeededRandom(seed: 5)
        var counts = [Int](repeating: 0, count: 7)
        let n = 70_000
        for _ in 0..<n { counts[random.index(below: 7)] += 1 }
        // Chi-square with 6 degrees of freedom; 22.46 is its 0.999 quantile.
        let expected = Double(n) / 7
        let chiSquare = counts.reduce(0.0) { $0 + pow2(Double($1) - expected) / expected }
        #expect(chiSquare < 22.46)
    }

    @Test func shuffleIsAPermutation() {
        var random = SeededRandom(seed: 1)
        var values = Array(0..<100)
        random.shuffle(&values)
        #expect(values.sorted() == Array(0..<100))
        #expect(values != Array(0..<100))
    }

    private func pow2(_ x: Double) -> Double { x * x }
}
