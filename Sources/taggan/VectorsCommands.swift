import ArgumentParsing
import Foundation
import Ingest
import SkipGram
import TagganCore
import Workspace

/// `taggan vectors train`: argument handling only; the work is in Ingest (reading the
/// corpus) and SkipGram (vocabulary, training, files).
struct VectorsTrain: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["vectors", "train"], summary: "Train skip-gram word vectors on text corpora (word2vec-compatible output).",
        discussion: """
        Corpora are UTF-8 text, read in streams (never whole). Tokens: lowercased runs of
        letters and digits; an apostrophe between two of them stays in the word ("don't").
        Output is word2vec's binary or text format, which gensim and word2vec read.
        """)
    static let defaults = SkipGramOptions()

    @Argument(value: "CORPUS") var corpora: [String]
    @Option(value: "V.bin", help: "output vectors (word2vec binary; .txt for text)") var out: String
    @Option(help: "vector size", check: Check("must be between 1 and 100000") { (1...100_000).contains($0) }) var dim = defaults.dimension
    @Option(help: "maximum context window", check: .within(1...1_000)) var window = defaults.window
    @Option(help: "negative samples per context word", check: .within(0...1_000)) var negative = defaults.negative
    @Option(help: "drop words seen fewer times", check: .positive) var minCount = 5
    @Option(value: "T", help: "sub-sampling threshold", check: .notNegative) var sample = defaults.sample
    @Option(help: "passes over the corpus", check: .within(1...100_000)) var epochs = defaults.epochs
    @Option(help: "worker threads (default: all cores)", check: .positive) var threads: Int?
    @Option(help: "random seed; with --threads 1 runs are identical", check: .notNegative) var seed = Int(defaults.seed)
    @Option(value: "A", help: "initial learning rate, decaying linearly to A*1e-4", check: Check("must be in (0, 1]") { $0 > 0 && $0 <= 1 }) var alpha = Double(defaults.alpha)
    @Flag(help: "add hierarchical softmax (use --negative 0 for hierarchical softmax alone)") var hs: Bool
    @Option(value: "A", help: "batched shares negatives per centre word; classic is word2vec's loop") var algorithm = defaults.algorithm
    @Option(help: "keep at most the N most frequent words", check: .positive) var maxVocab: Int?
    @Option(help: "distinct words held while counting; past it the rarest are pruned as word2vec's ReduceVocab does (bounds memory, ~40 bytes a word)",
            check: Check("must be at least 2") { $0 >= 2 }) var countingLimit = Vocabulary.defaultCountingLimit
    @Option(value: "L", help: "lines: one document per line; paragraphs: blank lines end sentences; yfcc: YFCC100M metadata TSV (title, description, tags)")
    var layout = TextCorpus.Layout.lines
    @Option(value: "F", help: "the output's format (default: text for .txt/.vec, else binary)") var format: Word2VecFile.Format?
    @Option(value: "F", help: "also write the vocabulary as 'word count' lines to F") var saveVocab: String?
    var common = CommonOptions()

    var options: SkipGramOptions {
        var options = SkipGramOptions()
        options.dimension = dim
        options.window = window
        options.negative = negative
        options.hierarchicalSoftmax = hs
        options.sample = sample
        options.alpha = Float(alpha)
        options.epochs = epochs
        options.threads = threads ?? Parallel.defaultThreads
        options.seed = UInt64(seed)
        options.algorithm = algorithm
        return options
    }

    func validate() throws {
        if corpora.isEmpty { throw usage("missing CORPUS...\nUSAGE: \(Self.usageLine)") }
        if negative == 0 && !hs { throw usage("--negative 0 needs --hs (nothing to train otherwise)") }
        if let corpus = corpora.first(where: { sameFile($0, out) }) { throw usage("--out \(out) is the corpus \(corpus): it would be overwritten") }
        var s = stat()
        if stat(out, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR { throw usage("--out \(out) is a folder; give a file name") }
    }

    func run() throws -> Int32 {
        // Checked before the training (hours on a large corpus), which used to end in
        // "cannot create the temporary file ...: Permission denied" with nothing saved.
        try AtomicFile.checkWritable(URL(fileURLWithPath: out))
        let options = self.options
        let format = self.format ?? Word2VecFile.format(forPath: out)
        let (vocabulary, report, countSeconds) = try VectorTraining.run(corpora: corpora, layout: layout, minCount: minCount,
                                                                        maxVocabulary: maxVocab, countingLimit: countingLimit,
                                                                        options: options)
        try Word2VecFile.write(report.vectors, to: out, format: format)
        try saveVocab.map { try vocabulary.write(to: URL(fileURLWithPath: $0)) }
        let summary = "trained \(vocabulary.count) words x \(options.dimension) on \(report.words) words in "
            + String(format: "%.1fs (%.0f words/s, %@, %d threads); wrote %@", report.seconds, report.wordsPerSecond,
                     options.algorithm.rawValue, options.threads, out)
        if common.json {
            JSONSummary.print([
                "command": "vectors train", "output": out, "format": format.rawValue, "vocabulary": vocabulary.count,
                "distinct_words": vocabulary.distinctWords, "corpus_tokens": vocabulary.corpusTokens,
                "training_tokens": vocabulary.trainingTokens, "counting_limit": countingLimit,
                "prune_threshold": vocabulary.pruneThreshold, "dimension": options.dimension, "window": options.window,
                "negative": options.negative, "hs": options.hierarchicalSoftmax, "sample": options.sample,
                "alpha": Double(options.alpha), "epochs": options.epochs, "threads": options.threads, "seed": Int(options.seed),
                "algorithm": options.algorithm.rawValue, "words_trained": report.words,
                "seconds": (report.seconds * 1000).rounded() / 1000, "vocabulary_seconds": (countSeconds * 1000).rounded() / 1000,
                "words_per_second": report.wordsPerSecond.rounded(),
            ])
        } else {
            print(summary)   // the summary goes to stdout, as every other command's does
        }
        return 0
    }

}

/// `taggan vectors eval V.bin`: SkipGram's analogy and similarity tests.
struct VectorsEval: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["vectors", "eval"], summary: "Evaluate word vectors on analogy and similarity test sets.",
        discussion: """
        V.bin may be word2vec binary or text, or GloVe text. Analogies: 3CosAdd over the
        30,000 most frequent words, as word2vec's compute-accuracy; questions with a word
        outside them are skipped and counted. Similarity: Spearman's rho, ties averaged.
        """)

    @Argument(value: "V.bin") var path: String
    @Option(value: "F", help: "analogy questions (questions-words.txt format)") var analogies: String?
    @Option(value: "F", help: "word pairs with human scores (wordsim353/simlex999)", upToNextOption: true) var similarity: [String] = []
    var common = CommonOptions()

    func validate() throws {
        if analogies == nil && similarity.isEmpty { throw usage("give --analogies F and/or --similarity F") }
    }

    func run() throws -> Int32 {
        let analogyFile = analogies, similarityFiles = similarity
        let vectors = try Word2VecFile.read(path)
        var json: [String: Any] = ["command": "vectors eval", "vectors": path, "words": vectors.count,
                                   "dimension": vectors.dimension]
        var lines: [String] = ["\(path): \(vectors.count) words x \(vectors.dimension)"]
        if let analogyFile {
            let result = try VectorEvaluation.analogies(vectors, questionsFile: analogyFile)
            lines.append("analogies \(analogyFile) (3CosAdd over the \(min(VectorEvaluation.analogyVocabulary, vectors.count)) most frequent words):")
            for section in result.sections {
                lines.append(row(section.name, section.accuracy, section.correct, section.answered, section.skipped))
            }
            lines.append(row("total", result.accuracy, result.correct, result.answered, result.skipped))
            json["analogies"] = [
                "file": analogyFile, "accuracy": result.accuracy, "correct": result.correct,
                "answered": result.answered, "skipped": result.skipped,
                "sections": result.sections.map {
                    ["name": $0.name, "accuracy": $0.accuracy, "correct": $0.correct,
                     "answered": $0.answered, "skipped": $0.skipped] as [String: Any]
                },
            ] as [String: Any]
        }
        var similarities: [[String: Any]] = []
        for file in similarityFiles {
            let result = try VectorEvaluation.similarity(vectors, pairsFile: file)
            lines.append(String(format: "similarity %@: Spearman rho %.4f (%d of %d pairs covered)",
                                file, result.rho, result.covered, result.total))
            similarities.append(["file": file, "spearman": result.rho.isNaN ? 0 : result.rho,
                                 "covered": result.covered, "pairs": result.total])
        }
        if !similarityFiles.isEmpty { json["similarity"] = similarities }
        if common.json {
            JSONSummary.print(json)
        } else {
            print(lines.joined(separator: "\n"))
        }
        return 0
    }

    private func row(_ name: String, _ accuracy: Double, _ correct: Int, _ answered: Int, _ skipped: Int) -> String {
        "  " + name.padding(toLength: max(28, name.count + 1), withPad: " ", startingAt: 0)
            + String(format: "%.4f  (%d/%d, %d skipped)", accuracy, correct, answered, skipped)
    }

}

/// `taggan vectors nearest V.bin WORD`
struct VectorsNearest: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["vectors", "nearest"], summary: "Print the words nearest to WORD by cosine similarity.")

    @Argument(value: "V.bin") var path: String
    @Argument(value: "WORD") var word: String
    @Option(name: "-k", help: "how many neighbours", check: .within(1...100_000)) var k = 10
    var common = CommonOptions()

    func validate() throws {
        if word.trimmingCharacters(in: .whitespaces).isEmpty { throw usage("WORD is empty") }
    }

    func run() throws -> Int32 {
        let vectors = try Word2VecFile.read(path)
        let key = vectors.id(of: word) != nil ? word : word.lowercased()
        guard let neighbours = vectors.nearest(to: key, k: k) else {
            throw TagganError.file(path, "the word '\(word)' is not in the vocabulary (\(vectors.count) words)")
        }
        if common.json {
            JSONSummary.print([
                "command": "vectors nearest", "vectors": path, "word": key,
                "neighbours": neighbours.map { ["word": $0.word, "similarity": Double($0.similarity)] as [String: Any] },
            ])
        } else {
            for (neighbour, similarity) in neighbours {
                print(String(format: "%.4f  ", similarity) + neighbour)
            }
            // A vocabulary of this one word has no neighbours: say so rather than print nothing.
            if neighbours.isEmpty { Log.warning("\(path): '\(key)' is its only word, so it has no neighbours") }
        }
        return 0
    }
}
