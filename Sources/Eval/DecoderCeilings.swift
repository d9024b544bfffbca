/// What the generators' decoders could reach at best with these word vectors.
public enum DecoderCeilings {
    /// Each generator decoder's ceiling: the decoder run on each image's own true tag vectors.
    public static func ceilings(settings: [MethodSetting], train: TagTrainingSet, truth: [Set<Int>], samples: Int, split: String) -> [String] {
        var row: [Int: Int] = [:]
        for (r, tag) in train.candidates.enumerated() { row[tag] = r }
        let tagRows = truth.map { $0.sorted().compactMap { row[$0] } }
        var decoders = [DecoderSetting(.paper)]
        for setting in settings where setting.method.isGenerator {
            if let decoder = setting.decoder, !decoders.contains(decoder) { decoders.append(decoder) }
        }
        guard !train.candidates.isEmpty, settings.contains(where: { $0.method.isGenerator }) else { return [] }
        let figures = decoders.map { decoder in
            let ranked = decoder.decoder.ceiling(tagRows: tagRows, candidates: train.candidateIndex, samples: samples, labels: train.candidates)
            return String(format: "%@ %.3f", decoder.decoder.description, TagMetrics.meanPrecision(ranked, truth: truth))
        }
        return ["Ceilings of the generator's decoders with these word vectors (each decoder fed each \(split) image's own true tag "
                + "vectors as its samples), P@5: " + figures.joined(separator: "; ") + "."]
    }
}
