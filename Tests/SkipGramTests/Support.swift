import Foundation
import TestSupport
import Testing
@testable import SkipGram
import TagganCore

/// Where corpora/ put the real data: `$TAGGAN_CORPORA`, else `<repo>/corpora/cache`.
/// Tests that need it fail (not skip) when it is missing: CI fetches it first.
enum RealData {
    static var cache: URL { TestData.corporaCache }

    static func file(_ relative: String) throws -> String {
        let path = cache.appendingPathComponent(relative).path
        try #require(FileManager.default.fileExists(atPath: path),
                     "\(path) is missing: run 'bash corpora/fetch-all.sh' or set TAGGAN_CORPORA")
        return path
    }
}

typealias Run = TagganProcess
