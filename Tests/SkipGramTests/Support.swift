import Foundation
import TestSupport
import Testing
@testable import SkipGram
import TagganCore

/// Where corpora/ put the real data: `$TAGGAN_CORPORA`, else `<repo>/corpora/cache`.
/// Tests that need it fail (not skip) when it is missing: CI fetches it first.
enum RealData {
    static let cache: URL = {
        if let path = ProcessInfo.processInfo.environment["TAGGAN_CORPORA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpora/cache")
    }()

    static func file(_ relative: String) throws -> String {
        let path = cache.appendingPathComponent(relative).path
        try #require(FileManager.default.fileExists(atPath: path),
                     "\(path) is missing: run 'bash corpora/fetch-all.sh' or set TAGGAN_CORPORA")
        return path
    }
}

/// A scratch folder removed when the test ends.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("skipgram-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = self.path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? [] }
}

typealias Run = TagganProcess
