import Foundation
import TagganCore

/// Analogy accuracy the way word2vec's compute-accuracy measures it.
///
/// For a question "a b c d" (a is to b as c is to d) with unit vectors, the answer is the
/// word w, other than a, b and c, maximising cos(w, b - a + c) (3CosAdd, Mikolov et al.
/// 2013). Only the `restrictTo` most frequent words (30,000, as compute-accuracy) are
/// candidates, and a question with any word outside them is skipped and counted.
/// Words are lowercased, as the vocabulary of a lowercased corpus is.
public struct AnalogyResult: Sendable {
    public struct Section: Sendable {
        public let name: String
        public var correct = 0
        public var answered = 0
        public var skipped = 0
        public var accuracy: Double { answered == 0 ? 0 : Double(correct) / Double(answered) }
    }
    public let sections: [Section]
    public var correct: Int { sections.reduce(0) { $0 + $1.correct } }
    public var answered: Int { sections.reduce(0) { $0 + $1.answered } }
    public var skipped: Int { sections.reduce(0) { $0 + $1.skipped } }
    /// Correct / answered over all sections (skipped questions excluded, as compute-accuracy).
    public var accuracy: Double { answered == 0 ? 0 : Double(correct) / Double(answered) }
}

/// Spearman's rank correlation between human similarity scores and cosine similarity.
public struct SimilarityResult: Sendable {
    public let rho: Double
    /// Pairs with both words in the vocabulary (the only ones scored).
    public let covered: Int
    public let total: Int
}

public enum VectorEvaluation {
    public static let analogyVocabulary = 30_000

    /// Reads questions-words.txt: ": section" lines, then "a b c d" lines.
    public static func analogies(_ vectors: WordVectors, questionsFile path: String,
                                 restrictTo limit: Int = analogyVocabulary) throws -> AnalogyResult {
        let text = try readText(path)
        var sections: [AnalogyResult.Section] = []
        var questions: [(section: Int, ids: [Int])] = []
        let rows = min(limit, vectors.count)
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix(":") {
                sections.append(.init(name: trimmed.dropFirst().trimmingCharacters(in: .whitespaces)))
                continue
            }
            let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.lowercased() }
            guard words.count == 4 else {
                throw TagganError.file(path, "line \(number + 1): expected 4 words, found \(words.count)")
            }
            if sections.isEmpty { sections.append(.init(name: "questions")) }
            let ids = words.compactMap { vectors.id(of: $0) }.filter { $0 < rows }
            if ids.count < 4 {
                sections[sections.count - 1].skipped += 1
            } else {
                questions.append((sections.count - 1, ids))
            }
        }
        guard !sections.isEmpty else { throw TagganError.file(path, "no analogy questions found") }
        let unit = vectors.normalizedValues(rows: rows)
        let dimension = vectors.dimension
        // Score questions in blocks: queries (b - a + c) times the candidates' transpose.
        let block = 256
        var queries = [Float](repeating: 0, count: block * dimension)
        var scores = [Float](repeating: 0, count: block * rows)
        var start = 0
        while start < questions.count {
            let count = min(block, questions.count - start)
            for q in 0..<count {
                let ids = questions[start + q].ids
                for d in 0..<dimension {
                    queries[q * dimension + d] = unit[ids[1] * dimension + d] - unit[ids[0] * dimension + d]
                        + unit[ids[2] * dimension + d]
                }
            }
            unit.withUnsafeBufferPointer { m in
                queries.withUnsafeBufferPointer { x in
                    scores.withUnsafeMutableBufferPointer { s in
                        BLAS.sgemm(.none, .transposed, m: count, n: rows, k: dimension, alpha: 1,
                                   a: x.baseAddress!, lda: dimension, b: m.baseAddress!, ldb: dimension,
                                   beta: 0, c: s.baseAddress!, ldc: rows)
                    }
                }
            }
            for q in 0..<count {
                let (section, ids) = questions[start + q]
                var best = -1
                var bestScore = -Float.infinity
                for w in 0..<rows where w != ids[0] && w != ids[1] && w != ids[2] {
                    let score = scores[q * rows + w]
                    if score > bestScore { bestScore = score; best = w }
                }
                sections[section].answered += 1
                if best == ids[3] { sections[section].correct += 1 }
            }
            start += count
        }
        return AnalogyResult(sections: sections)
    }

    /// Reads a word-pair file (wordsim353.tsv, simlex999.txt: "#" comments, then
    /// "word1 TAB word2 TAB score") and correlates the scores with cosine similarity.
    public static func similarity(_ vectors: WordVectors, pairsFile path: String) throws -> SimilarityResult {
        let text = try readText(path)
        var human: [Double] = [], model: [Double] = []
        var total = 0
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "," })
            guard fields.count >= 3, let score = Double(fields[2]) else {
                throw TagganError.file(path, "line \(number + 1): expected 'word1<TAB>word2<TAB>score'")
            }
            // Double() reads "nan" and "inf": a NaN ranks as no number does, and would
            // quietly skew rho instead of being seen as a broken line.
            guard score.isFinite else {
                throw TagganError.file(path, "line \(number + 1): the score '\(fields[2])' is not a finite number")
            }
            total += 1
            guard let a = vectors.vector(fields[0].lowercased()), let b = vectors.vector(fields[1].lowercased()) else {
                continue
            }
            human.append(score)
            model.append(Double(cosine(a, b)))
        }
        guard total > 0 else { throw TagganError.file(path, "no word pairs found") }
        return SimilarityResult(rho: spearman(human, model), covered: human.count, total: total)
    }

    static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        var dot: Float = 0, na: Float = 0, nb: Float = 0
        for (x, y) in zip(a, b) { dot += x * y; na += x * x; nb += y * y }
        return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : 0
    }

    /// Spearman's rho: Pearson's correlation of the ranks, tied values sharing the average
    /// of the ranks they span (so [10, 20, 20, 30] ranks as [1, 2.5, 2.5, 4]).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count)
        guard x.count > 1 else { return .nan }
        return pearson(ranks(x), ranks(y))
    }

    static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var result = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && values[order[j + 1]] == values[order[i]] { j += 1 }
            let average = Double(i + j) / 2 + 1
            for k in i...j { result[order[k]] = average }
            i = j + 1
        }
        return result
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my)
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TagganError.file(path, FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw TagganError.file(path, "not UTF-8 text")
        }
        return text
    }
}
