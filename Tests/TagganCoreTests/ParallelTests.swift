import Foundation
import Testing
@testable import TagganCore

@Suite("Parallel loops")
struct ParallelTests {
    @Test("every index is visited exactly once",
          arguments: [0, 1, 2, 7, 1000, 100_003], [1, 2, 3, 16])
    func coversEveryIndexOnce(count: Int, threads: Int) {
        let visits = UnsafeMutablePointer<Int32>.allocate(capacity: max(count, 1))
        visits.initialize(repeating: 0, count: max(count, 1))
        defer { visits.deallocate() }
        nonisolated(unsafe) let shared = visits
        Parallel.forEach(count, threads: threads) { i in
            // Each index belongs to one chunk, so no two workers write the same slot.
            shared[i] += 1
        }
        let counts = UnsafeBufferPointer(start: visits, count: count)
        #expect(counts.allSatisfy { $0 == 1 })
    }

    @Test func chunksPartitionTheRange() {
        let lock = NSLock()
        nonisolated(unsafe) var seen: [(Int, Range<Int>)] = []
        Parallel.forEachChunk(1001, threads: 2) { chunk, range in
            lock.lock(); seen.append((chunk, range)); lock.unlock()
        }
        let ranges = seen.sorted { $0.1.lowerBound < $1.1.lowerBound }.map(\.1)
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == 1001)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        #expect(Set(seen.map(\.0)).count == seen.count)
    }

    /// The same chunks run in other orders give the same values: in parallel with
    /// even chunks delayed (so they finish last), and serially, forwards and backwards.
    @Test func perChunkRandomStreamsMakeResultsIndependentOfScheduling() {
        let base = SeededRandom(seed: 42)
        let lock = NSLock()
        nonisolated(unsafe) var chunks: [(Int, Range<Int>)] = []
        func fill(_ out: UnsafeMutablePointer<Float>, chunk: Int, range: Range<Int>) {
            var random = base.split(stream: UInt64(chunk))
            for i in range { out[i] = random.uniform() }
        }
        func parallel(delayEven: Bool) -> [Float] {
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 10_000)
            defer { out.deallocate() }
            nonisolated(unsafe) let shared = out
            Parallel.forEachChunk(10_000, threads: 4) { chunk, range in
                if delayEven && chunk % 2 == 0 { usleep(2000) }
                lock.lock(); chunks.append((chunk, range)); lock.unlock()
                fill(shared, chunk: chunk, range: range)
            }
            return Array(UnsafeBufferPointer(start: out, count: 10_000))
        }
        let first = parallel(delayEven: false)
        let plan = chunks.sorted { $0.0 < $1.0 }
        #expect(plan.count > 1, "one chunk cannot show scheduling")
        #expect(parallel(delayEven: true) == first)
        for order in [plan, plan.reversed()] {
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 10_000)
            defer { out.deallocate() }
            for (chunk, range) in order { fill(out, chunk: chunk, range: range) }
            #expect(Array(UnsafeBufferPointer(start: out, count: 10_000)) == first)
        }
    }
}
