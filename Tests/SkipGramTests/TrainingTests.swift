import Foundation
import TestSupport
import Testing
import Ingest
@testable import SkipGram
import TagganCore

/// Training on real English text (corpora/: the first ~2 MB of english.txt, WordNet
/// glosses and dictionary entries): neighbours must make sense.
@Suite("Skip-gram training on real text", .serialized)
struct TrainingTests {
    /// The first `bytes` of english.txt, cut at a line end, in a temporary file.
    static func slice(_ folder: TemporaryFolder, bytes: Int) throws -> String {
        let source = try RealData.file("text/english.txt")
        let handle = try #require(FileHandle(forReadingAtPath: source))
        defer { try? handle.close() }
        var data = try #require(try handle.read(upToCount: bytes))
        if let end = data.lastIndex(of: 0x0A) { data = data[..<(end + 1)] }
        let path = folder.path("english-slice.txt")
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    static func train(_ path: String, algorithm: TrainingAlgorithm, threads: Int = 1, epochs: Int = 5,
                      dimension: Int = 50, seed: UInt64 = 1, hierarchical: Bool = false) throws -> WordVectors {
        let corpus = try TextCorpus(paths: [path])
        let vocabulary = try Vocabulary(counting: corpus, minCount: 5, threads: threads)
        var options = SkipGramOptions()
        options.dimension = dimension
        options.epochs = epochs
        options.threads = threads
        options.seed = seed
        options.algorithm = algorithm
        if hierarchical {
            options.hierarchicalSoftmax = true
            options.negative = 0
        }
        let model = try SkipGramModel(vocabulary: vocabulary, options: options)
        let report = try model.train(on: corpus)
        #expect(report.words == epochs * vocabulary.trainingTokens)
        return model.vectors
    }

    static func rank(of neighbour: String, near word: String, in vectors: WordVectors) throws -> Int? {
        let nearest = try #require(vectors.nearest(to: word, k: 10), "\(word) not in the vocabulary")
        return nearest.firstIndex { $0.word == neighbour }.map { $0 + 1 }
    }

    @Test(arguments: TrainingAlgorithm.allCases)
    func relatedWordsAreNearestNeighbours(_ algorithm: TrainingAlgorithm) throws {
        let folder = TemporaryFolder()
        let vectors = try Self.train(Self.slice(folder, bytes: 2_000_000), algorithm: algorithm, threads: 2)
        let two = try Self.rank(of: "three", near: "two", in: vectors)
        #expect(two != nil && two! <= 5, "'three' ranks \(two.map(String.init) ?? "beyond 10") near 'two'")
        let north = try Self.rank(of: "south", near: "north", in: vectors)
        #expect(north != nil && north! <= 3, "'south' ranks \(north.map(String.init) ?? "beyond 10") near 'north'")
        let colours = try ["yellow", "blue", "green"].compactMap { try Self.rank(of: $0, near: "red", in: vectors) }
        #expect(colours.contains { $0 <= 5 }, "colours near 'red' rank \(colours)")
    }

    @Test func hierarchicalSoftmaxAloneLearnsToo() throws {
        let folder = TemporaryFolder()
        let vectors = try Self.train(Self.slice(folder, bytes: 2_000_000), algorithm: .batched, threads: 2,
                                     hierarchical: true)
        let north = try Self.rank(of: "south", near: "north", in: vectors)
        #expect(north != nil && north! <= 3, "'south' ranks \(north.map(String.init) ?? "beyond 10") near 'north'")
        let two = try Self.rank(of: "three", near: "two", in: vectors)
        #expect(two != nil && two! <= 5, "'three' ranks \(two.map(String.init) ?? "beyond 10") near 'two'")
    }

    @Test(arguments: TrainingAlgorithm.allCases)
    func oneThreadAndASeedReproduceExactly(_ algorithm: TrainingAlgorithm) throws {
        let folder = TemporaryFolder()
        let path = try Self.slice(folder, bytes: 300_000)
        let first = try Self.train(path, algorithm: algorithm, epochs: 1, dimension: 20, seed: 7)
        let second = try Self.train(path, algorithm: algorithm, epochs: 1, dimension: 20, seed: 7)
        let other = try Self.train(path, algorithm: algorithm, epochs: 1, dimension: 20, seed: 8)
        #expect(first.values.map(\.bitPattern) == second.values.map(\.bitPattern))
        #expect(first.values != other.values)
    }
}
