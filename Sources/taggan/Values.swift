import ArgumentParsing
import Eval
import Features
import Ingest
import SkipGram
import TagGAN
import Foundation
import TagganCore

// The stage modules' enums as option values: the parser lists their cases in errors.
extension TrainingMode: ArgumentValue, ArgumentChoice {}
extension OptimizerKind: ArgumentValue, ArgumentChoice {}
extension TrainingAlgorithm: ArgumentValue, ArgumentChoice {}
extension TextCorpus.Layout: ArgumentValue, ArgumentChoice {}
extension DatasetLayout: ArgumentValue, ArgumentChoice {}
extension Word2VecFile.Format: ArgumentValue, ArgumentChoice {}
extension TagMethod: ArgumentValue, ArgumentChoice {}

/// `--model efficientnet-lite0|efficientnet-lite2`.
extension EfficientNetConfig: ArgumentValue {
    public typealias Parsed = EfficientNetConfig
    public static func element(from word: String) -> EfficientNetConfig? { named(word) }
    public static var expectation: String { "one of " + all.map(\.name).joined(separator: ", ") }
    public static func complaint(about word: String, shownAs shown: String) -> String {
        "unknown model '\(word)' (one of: \(all.map(\.name).joined(separator: ", ")))"
    }
    public var defaultDescription: String? { name }
}

/// `--shard I/N`: shard I (0-based) of N, by TagganCore's one rule.
extension ShardSpec: ArgumentValue {
    public typealias Parsed = ShardSpec
    public static func element(from word: String) -> ShardSpec? { try? ShardSpec(parsing: word) }
    public static var expectation: String { "I/N with 0 <= I < N" }
    public static func complaint(about word: String, shownAs shown: String) -> String {
        "\(shown.replacingOccurrences(of: "option ", with: "")) expects I/N with 0 <= I < N, got '\(word)'"
    }
    public var defaultDescription: String? { nil }
    static let help = "process only shard I of N (0 <= I < N): " + ShardSpec.rule
}

/// `--split T/V/E`.
extension Catalog.SplitRule: ArgumentValue {
    public typealias Parsed = Catalog.SplitRule
    public static func element(from word: String) -> Catalog.SplitRule? { Catalog.SplitRule(word) }
    public static var expectation: String { "three percentages adding to 100, like 80/10/10" }
    public var defaultDescription: String? { description }
}

/// `on|off` options.
enum Switch: String, ArgumentChoice, CaseIterable { case on, off }
