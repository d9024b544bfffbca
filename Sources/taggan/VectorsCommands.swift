import Foundation
import Ingest
import SkipGram
import TagganCore

/// `taggan vectors train | eval | nearest`: argument handling only; the work is in
/// Ingest (reading the corpus) and SkipGram (vocabulary, training, files, evaluation).
enum VectorsCommands {
    static func train(_ arguments: ParsedArguments) throws -> Int32 {
        let name = arguments.command.name
        var options = TrainingOptions()
        options.dimension = try arguments.integer("--dim", default: options.dimension)
        options.window = try arguments.integer("--window", default: options.window)
        options.negative = try arguments.integer("--negative", default: options.negative)
        options.hierarchicalSoftmax = arguments.flag("--hs")
        options.sample = try arguments.number("--sample", default: options.sample)
        options.alpha = Float(try arguments.number("--alpha", default: Double(options.alpha)))
        options.epochs = try arguments.integer("--epochs", default: options.epochs)
        options.threads = try arguments.integer("--threads", default: Parallel.defaultThreads)
        let seed = try arguments.integer("--seed", default: 1)
        guard seed >= 0 else { throw TagganError.usage("\(name): --seed must be 0 or more") }
        options.seed = UInt64(seed)
        if let algorithm = arguments.value("--algorithm") {
            guard let chosen = TrainingAlgorithm(rawValue: algorithm) else {
                throw TagganError.usage("\(name): --algorithm must be classic or batched, got '\(algorithm)'")
            }
            options.algorithm = chosen
        }
        let minCount = try arguments.integer("--min-count", default: 5)
        guard minCount >= 1 else { throw TagganError.usage("\(name): --min-count must be at least 1") }
        let maxVocab = try arguments.value("--max-vocab").map { _ in try arguments.integer("--max-vocab", default: 0) }
        if let maxVocab, maxVocab < 1 { throw TagganError.usage("\(name): --max-vocab must be positive") }
        let layoutName = arguments.value("--layout") ?? "lines"
        guard let layout = TextCorpus.Layout(rawValue: layoutName) else {
            throw TagganError.usage("\(name): --layout must be lines, paragraphs or yfcc, got '\(layoutName)'")
        }
        do { try options.validate() } catch TagganError.usage(let message) {
            throw TagganError.usage("\(name): \(message)")
        }
        let out = try arguments.required("--out")
        let format: Word2VecFile.Format
        switch arguments.value("--format") {
        case nil: format = Word2VecFile.format(forPath: out)
        case let text?:
            guard let chosen = Word2VecFile.Format(rawValue: text) else {
                throw TagganError.usage("\(name): --format must be binary or text, got '\(text)'")
            }
            format = chosen
        }

        let corpus = try TextCorpus(paths: arguments.positionals, layout: layout)
        let counting = DispatchTime.now().uptimeNanoseconds
        let vocabulary = try Vocabulary(counting: corpus, minCount: minCount, maxSize: maxVocab,
                                        threads: options.threads)
        let countSeconds = Double(DispatchTime.now().uptimeNanoseconds - counting) * 1e-9
        Log.info("vocabulary: \(vocabulary.count) words kept of \(vocabulary.distinctWords) distinct, "
            + "\(vocabulary.trainingTokens) of \(vocabulary.corpusTokens) tokens (\(String(format: "%.1f", countSeconds))s)")
        let model = try SkipGramModel(vocabulary: vocabulary, options: options)
        let progress = Progress("vectors train", total: options.epochs * vocabulary.trainingTokens, unit: "words")
        let report = try model.train(on: corpus, progress: progress)
        try Word2VecFile.write(model.vectors, to: out, format: format)
        if let saveVocab = arguments.value("--save-vocab") {
            var text = ""
            for (word, count) in zip(vocabulary.words, vocabulary.counts) { text += "\(word) \(count)\n" }
            try AtomicFile.write(text, to: URL(fileURLWithPath: saveVocab))
        }
        let summary = "trained \(vocabulary.count) words x \(options.dimension) on \(report.words) words in "
            + String(format: "%.1fs (%.0f words/s, %@, %d threads); wrote %@", report.seconds, report.wordsPerSecond,
                     options.algorithm.rawValue, options.threads, out)
        if arguments.json {
            JSONSummary.print([
                "command": "vectors train",
                "output": out,
                "format": format.rawValue,
                "vocabulary": vocabulary.count,
                "distinct_words": vocabulary.distinctWords,
                "corpus_tokens": vocabulary.corpusTokens,
                "training_tokens": vocabulary.trainingTokens,
                "dimension": options.dimension,
                "window": options.window,
                "negative": options.negative,
                "hs": options.hierarchicalSoftmax,
                "sample": options.sample,
                "alpha": Double(options.alpha),
                "epochs": options.epochs,
                "threads": options.threads,
                "seed": Int(options.seed),
                "algorithm": options.algorithm.rawValue,
                "words_trained": report.words,
                "seconds": (report.seconds * 1000).rounded() / 1000,
                "vocabulary_seconds": (countSeconds * 1000).rounded() / 1000,
                "words_per_second": report.wordsPerSecond.rounded(),
            ])
        } else {
            print(summary)   // the summary goes to stdout, as every other command's does
        }
        return 0
    }

    static func eval(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let analogyFile = arguments.value("--analogies")
        let similarityFiles = arguments.all("--similarity")
        guard analogyFile != nil || !similarityFiles.isEmpty else {
            throw TagganError.usage("\(arguments.command.name): give --analogies F and/or --similarity F")
        }
        let vectors = try Word2VecFile.read(path)
        var json: [String: Any] = ["command": "vectors eval", "vectors": path, "words": vectors.count,
                                   "dimension": vectors.dimension]
        var lines: [String] = ["\(path): \(vectors.count) words x \(vectors.dimension)"]
        if let analogyFile {
            let result = try Evaluation.analogies(vectors, questionsFile: analogyFile)
            lines.append("analogies \(analogyFile) (3CosAdd over the \(min(Evaluation.analogyVocabulary, vectors.count)) most frequent words):")
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
            let result = try Evaluation.similarity(vectors, pairsFile: file)
            lines.append(String(format: "similarity %@: Spearman rho %.4f (%d of %d pairs covered)",
                                file, result.rho, result.covered, result.total))
            similarities.append(["file": file, "spearman": result.rho.isNaN ? 0 : result.rho,
                                 "covered": result.covered, "pairs": result.total])
        }
        if !similarityFiles.isEmpty { json["similarity"] = similarities }
        if arguments.json {
            JSONSummary.print(json)
        } else {
            print(lines.joined(separator: "\n"))
        }
        return 0
    }

    private static func row(_ name: String, _ accuracy: Double, _ correct: Int, _ answered: Int, _ skipped: Int) -> String {
        "  " + name.padding(toLength: max(28, name.count + 1), withPad: " ", startingAt: 0)
            + String(format: "%.4f  (%d/%d, %d skipped)", accuracy, correct, answered, skipped)
    }

    static func nearest(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let word = arguments.positionals[1]
        let k = try arguments.integer("-k", default: 10)
        guard k > 0 else { throw TagganError.usage("\(arguments.command.name): -k must be positive") }
        let vectors = try Word2VecFile.read(path)
        let key = vectors.id(of: word) != nil ? word : word.lowercased()
        guard let neighbours = vectors.nearest(to: key, k: k) else {
            throw TagganError.file(path, "the word '\(word)' is not in the vocabulary (\(vectors.count) words)")
        }
        if arguments.json {
            JSONSummary.print([
                "command": "vectors nearest", "vectors": path, "word": key,
                "neighbours": neighbours.map { ["word": $0.word, "similarity": Double($0.similarity)] as [String: Any] },
            ])
        } else {
            for (neighbour, similarity) in neighbours {
                print(String(format: "%.4f  ", similarity) + neighbour)
            }
        }
        return 0
    }
}
