import Foundation
import Ingest
import SkipGram
import TagganCore

/// `taggan vectors train`'s work: Ingest's streaming corpus reader, SkipGram's counting
/// and training, with a progress line.
public enum VectorTraining {
    /// What training produced: the vectors and SkipGram's report.
    public struct Report {
        public let vectors: WordVectors
        public let words: Int
        public let seconds: Double
        public let wordsPerSecond: Double
    }

    /// Counts the corpora's vocabulary (words seen at least `minCount` times, at most
    /// `maxVocabulary` of them; at most `countingLimit` distinct words held while counting),
    /// then trains; returns the vocabulary, the report and the seconds counting took.
    public static func run(corpora: [String], layout: TextCorpus.Layout, minCount: Int, maxVocabulary: Int?,
                           countingLimit: Int = Vocabulary.defaultCountingLimit,
                           options: SkipGramOptions) throws -> (Vocabulary, Report, Double) {
        let corpus = try TextCorpus(paths: corpora, layout: layout)
        let counting = DispatchTime.now().uptimeNanoseconds
        let vocabulary = try Vocabulary(counting: corpus, minCount: minCount, maxSize: maxVocabulary, threads: options.threads,
                                        countingLimit: countingLimit)
        let countSeconds = Double(DispatchTime.now().uptimeNanoseconds - counting) * 1e-9
        Log.info("vocabulary: \(vocabulary.count) words kept of \(vocabulary.distinctWords) distinct, "
            + "\(vocabulary.trainingTokens) of \(vocabulary.corpusTokens) tokens (\(String(format: "%.1f", countSeconds))s)"
            + (vocabulary.pruneThreshold > 0 ? "; words counted at most \(vocabulary.pruneThreshold) times were pruned while counting "
                + "(--counting-limit \(countingLimit)): their counts are lower bounds" : ""))
        let model = try SkipGramModel(vocabulary: vocabulary, options: options)
        let progress = ProgressLine("vectors train", total: options.epochs * vocabulary.trainingTokens, unit: "words")
        let report = try model.train(on: corpus, progress: progress)
        return (vocabulary, Report(vectors: model.vectors, words: report.words, seconds: report.seconds,
                                   wordsPerSecond: report.wordsPerSecond), countSeconds)
    }
}
