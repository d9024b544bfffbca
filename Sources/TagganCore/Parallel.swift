import Dispatch
import Foundation

/// Parallel loops over the machine's cores.
public enum Parallel {
    /// Worker count: `$TAGGAN_THREADS` when set to a positive number, else the active
    /// processor count.
    /// (`getenv`, not `ProcessInfo.environment`, which builds a dictionary of the whole
    /// environment on every read: the training step asks for this dozens of times.)
    public static var defaultThreads: Int {
        _ = environmentChecked
        if let raw = getenv("TAGGAN_THREADS"), let value = Int(String(cString: raw)), value > 0 {
            return min(value, maximumThreads)
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    /// The most workers `TAGGAN_THREADS` may ask for: four per active processor, at least
    /// 64. Each worker takes its own buffers and share of the work, and past the cores
    /// they only wait on each other: TAGGAN_THREADS=99999 made `vectors train` on the tag
    /// corpus take 7.9 s instead of 0.04 s on 2 cores (a corpus part per thread).
    public static var maximumThreads: Int { max(64, 4 * ProcessInfo.processInfo.activeProcessorCount) }

    /// Says once, on stderr, what becomes of a `TAGGAN_THREADS` the user set that is not a
    /// positive number (0, -1, "abc" were ignored without a word) or is above the maximum.
    private static let environmentChecked: Void = {
        guard let raw = getenv("TAGGAN_THREADS"), raw.pointee != 0 else { return }   // unset or empty: the default
        let text = String(cString: raw)
        let message: String
        if let value = Int(text), value > 0 {
            guard value > maximumThreads else { return }
            message = "TAGGAN_THREADS=\(text) is more than \(maximumThreads) (4 per processor); using \(maximumThreads)"
        } else {
            message = "TAGGAN_THREADS=\(text) is not a positive number of threads; using the \(ProcessInfo.processInfo.activeProcessorCount) "
                + "active processors"
        }
        FileHandle.standardError.write(Data("taggan: \(message)\n".utf8))
    }()

    /// Calls `body` once for each chunk of `0..<count`; the chunks partition the range
    /// (every index is covered exactly once) and run on up to `threads` workers at once.
    /// `body` receives the chunk's number (0..<chunks) and its index range, so a worker
    /// can pick its own random stream (`SeededRandom.split(stream: chunk)`) and results
    /// do not depend on scheduling. With one thread or one chunk it runs inline.
    ///
    /// - Parameter grain: the smallest chunk worth a task switch.
    public static func forEachChunk(
        _ count: Int, threads: Int = defaultThreads, grain: Int = 1,
        _ body: (_ chunk: Int, _ range: Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let workers = max(1, min(threads, (count + max(grain, 1) - 1) / max(grain, 1)))
        if workers == 1 {
            body(0, 0..<count)
            return
        }
        // A few chunks per worker balance uneven work without much overhead; when fewer
        // workers than cores are asked for, one chunk each keeps the limit (Dispatch
        // would otherwise run chunks on every core).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let chunks = workers >= cores ? min(count, workers * 4) : workers
        let size = count / chunks, extra = count % chunks
        @Sendable func bounds(_ chunk: Int) -> Range<Int> {
            let start = chunk * size + min(chunk, extra)
            return start ..< start + size + (chunk < extra ? 1 : 0)
        }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                Denormals.applyOnWorker()
                work(chunk, bounds(chunk))
            }
        }
    }

    /// Calls `body(i)` for every i in 0..<count, spread over the workers.
    public static func forEach(_ count: Int, threads: Int = defaultThreads, grain: Int = 1,
                               _ body: (Int) -> Void) {
        forEachChunk(count, threads: threads, grain: grain) { _, range in
            for i in range { body(i) }
        }
    }
}

/// Fixed-size storage that parallel workers fill at distinct indices, for loops whose
/// results are collected after `Parallel.forEach`. Raw memory, so no copy-on-write
/// check races between workers; each index must be written by one worker only.
public final class ParallelSlots<T>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<T?>

    public init(count: Int) {
        storage = .allocate(capacity: max(count, 1))
        storage.initialize(repeating: nil)
    }

    deinit {
        _ = storage.deinitialize()
        storage.deallocate()
    }

    public subscript(index: Int) -> T? {
        get { storage[index] }
        set { storage[index] = newValue }
    }

    /// The first `count` slots in order.
    public func values(_ count: Int) -> [T?] { Array(storage.prefix(count)) }
}
