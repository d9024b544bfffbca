import Foundation
import TagganCore

/// Decode-to-size throughput over a folder of JPEGs, for `taggan bench decode`:
/// each file is read, decoded at the DCT scale that keeps its shorter side at or above
/// `size`, then resized (antialiased) so the shorter side is exactly `size` — the work
/// a feature extractor needs before its center crop.
public enum DecodeBenchmark {
    public struct Result: Sendable {
        public let images: Int
        public let seconds: Double
        public var imagesPerSecond: Double { Double(images) / seconds }
    }

    public static func run(files: [URL], size: Int?, threads: Int, repeats: Int = 3) throws -> Result {
        let decoder = ImageDecoder(maxPixels: 200_000_000)
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let failures = ParallelSlots<String>(count: files.count)
            Parallel.forEach(files.count, threads: threads) { i in
                do {
                    // Reading the file is part of the work, as it is for djpeg.
                    let image = try decoder.decode(Data(contentsOf: files[i]), targetShorterSide: size)
                    if let size { _ = image.resized(shorterSide: size) }
                } catch {
                    failures[i] = "\(files[i].path): \(error)"
                }
            }
            if let failure = (0..<files.count).compactMap({ failures[$0] }).first {
                throw TagganError.failure("decode failed: \(failure)")
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return Result(images: files.count, seconds: best)
    }
}
