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

/// A setting a resumed run may be asked to change (each is recorded in the checkpoint).
public enum ResumableSetting: String, Sendable, CaseIterable {
    case neighbours, batchSize, optimizer, learningRate, mismatchWeight, centreFeatures, seed, rankingWeight, rankingMargin, ownTagShare
}

/// A requested value that differs from the recorded one, both as text.
public struct Contradiction: Sendable, Equatable {
    public let setting: ResumableSetting
    public let requested: String
    public let recorded: String
}

extension TrainingConfiguration {
    /// The requested settings that differ from this (recorded) configuration. A resumed
    /// run continues with the recorded configuration, so a different value on its command
    /// line is a mistake to report, never a setting to ignore or to half-apply.
    public func contradictions(with requested: RequestedSettings) -> [Contradiction] {
        var found: [Contradiction] = []
        func check<T: Equatable>(_ setting: ResumableSetting, _ asked: T?, _ recorded: T, _ show: (T) -> String = { "\($0)" }) {
            if let asked, asked != recorded { found.append(Contradiction(setting: setting, requested: show(asked), recorded: show(recorded))) }
        }
        if mode == .icgan { check(.neighbours, requested.neighbours, neighbours) }
        check(.batchSize, requested.batchSize, batchSize)
        check(.optimizer, requested.optimizer, optimizer, { $0.rawValue })
        check(.learningRate, requested.learningRate, learningRate)
        check(.mismatchWeight, requested.mismatchWeight, mismatchWeight ?? 0)
        check(.centreFeatures, requested.centreFeatures, featureMean != nil, { $0 ? "on" : "off" })
        check(.seed, requested.seed, seed)
        check(.rankingWeight, requested.rankingWeight, rankingWeight ?? 0)
        if (rankingWeight ?? 0) > 0 { check(.rankingMargin, requested.rankingMargin, rankingMargin ?? 0.1) }
        if mode == .icgan { check(.ownTagShare, requested.ownTagShare, ownTagShare ?? 0) }
        return found
    }
}
