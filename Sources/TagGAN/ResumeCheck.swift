import Foundation
import TagganCore

/// Settings a command line asked for, each nil when it was not given: what a resumed run
/// compares with the configuration its checkpoint recorded.
public struct RequestedSettings: Sendable, Equatable {
    public var neighbours: Int?
    public var batchSize: Int?
    public var optimizer: OptimizerKind?
    public var learningRate: Double?
    public var mismatchWeight: Double?
    public var centreFeatures: Bool?
    public var seed: UInt64?
    public var rankingWeight: Double?
    public var rankingMargin: Double?
    public var ownTagShare: Double?
    public init() {}
}

extension TrainingConfiguration {
    /// The requested settings that differ from this (recorded) configuration, each as
    /// "--option VALUE, but the checkpoint has RECORDED". A resumed run continues with the
    /// recorded configuration, so a different value on its command line is a mistake to
    /// report, never a setting to ignore or to half-apply.
    public func contradictions(with requested: RequestedSettings) -> [String] {
        var found: [String] = []
        func check<T: Equatable>(_ option: String, _ asked: T?, _ recorded: T, _ show: (T) -> String = { "\($0)" }) {
            if let asked, asked != recorded { found.append("\(option) \(show(asked)), but the checkpoint has \(show(recorded))") }
        }
        if mode == .icgan { check("--neighbours", requested.neighbours, neighbours) }
        check("--batch-size", requested.batchSize, batchSize)
        check("--optimizer", requested.optimizer, optimizer, { $0.rawValue })
        check("--learning-rate", requested.learningRate, learningRate)
        check("--mismatch", requested.mismatchWeight, mismatchWeight ?? 0)
        check("--centre-features", requested.centreFeatures, featureMean != nil, { $0 ? "on" : "off" })
        check("--seed", requested.seed, seed)
        check("--ranking-weight", requested.rankingWeight, rankingWeight ?? 0)
        if (rankingWeight ?? 0) > 0 { check("--ranking-margin", requested.rankingMargin, rankingMargin ?? 0.1) }
        if mode == .icgan { check("--own-tags", requested.ownTagShare, ownTagShare ?? 0) }
        return found
    }
}
