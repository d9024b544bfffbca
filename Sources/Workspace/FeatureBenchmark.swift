import Features
import Foundation
import TagganCore

extension FeatureExtraction {
    /// Images/s of the network alone (the best and the mean of `repeats` timed batches of
    /// synthetic crops) and, with a folder, of decoding + preprocessing + the network.
    public struct Benchmark: Sendable {
        public var bestRate: Double, meanRate: Double
        public var folderImages = 0
        public var folderRate: Double?
    }

    /// Times one batch of synthetic crops (as `benchmark`'s) per line read on stdin and
    /// prints its seconds, one line each, until end of input; a warm-up batch first, then
    /// "ready". A driver alternating these batches with a peer's compares the two under
    /// the same moment's host conditions (bench/features.sh).
    public static func serveBatches(_ net: EfficientNet, batch: Int, threads: Int) {
        let inputs = syntheticCrops(net, batch: batch)
        _ = net.embed(inputs, threads: threads)
        print("ready")
        fflush(nil)   // every output stream, stdout included
        while readLine() != nil {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = net.embed(inputs, threads: threads)
            print(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            fflush(nil)   // every output stream, stdout included
        }
    }

    /// The benchmarks' batch: `batch` normalised crops of uniform noise, the same every run.
    static func syntheticCrops(_ net: EfficientNet, batch: Int) -> Tensor {
        let s = net.config.imageSize
        var random = SeededRandom(seed: 1)
        return Tensor.uniform(shape: [batch, s, s, 3], in: -1..<1, using: &random)
    }

    public static func benchmark(_ net: EfficientNet, batch: Int, repeats: Int, threads: Int, folder: URL?) throws -> Benchmark {
        let inputs = syntheticCrops(net, batch: batch)
        _ = net.embed(inputs, threads: threads)  // warm-up
        var best = Double.infinity, total = 0.0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = net.embed(inputs, threads: threads)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            best = min(best, seconds)
            total += seconds
        }
        var result = Benchmark(bestRate: Double(batch) / best, meanRate: Double(batch * repeats) / total)
        if let folder {
            let urls = ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
                .filter { ["jpg", "jpeg", "png"].contains($0.pathExtension.lowercased()) }.sorted { $0.path < $1.path }
            guard !urls.isEmpty else { throw TagganError.file(folder.path, "no JPEG or PNG files") }
            let preprocessor = ImagePreprocessor(config: net.config)
            let skipped = SkipLog()
            let start = DispatchTime.now().uptimeNanoseconds
            var embedded = 0
            for first in stride(from: 0, to: urls.count, by: batch) {
                let crops = FeatureExtraction.decodeCrops(Array(urls[first ..< min(first + batch, urls.count)]),
                                                        preprocessor: preprocessor, skipped: skipped).compactMap { $0 }
                if !crops.isEmpty { embedded += net.embed(preprocessor.normalise(crops), threads: threads).rows }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            result.folderImages = embedded
            result.folderRate = Double(embedded) / seconds
        }
        return result
    }
}
