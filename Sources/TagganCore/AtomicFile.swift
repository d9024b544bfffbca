import Foundation

/// Writes files so that a reader never sees a half-written one: the bytes go to a
/// temporary file in the same folder (same file system), are flushed to disk, and the
/// temporary file is renamed over the destination (rename(2) is atomic on POSIX).
/// A crash leaves either the old file or the new one, plus at worst a stray
/// `.<name>.tmp-*` file that the next write replaces.
public enum AtomicFile {
    /// The file's bytes (memory-mapped where safe), or an error naming the file and why
    /// it cannot be read — the reading counterpart every loader uses.
    public static func read(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw TagganError.file(url.path, "cannot read: \(reason)")
        }
    }

    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { handle in try handle.write(contentsOf: data) }
    }

    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Streams into the temporary file through `body`, then renames it into place.
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw TagganError.file(url.path, "cannot create a temporary file in \(folder.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try body(handle)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw TagganError.file(url.path, "write failed: \(error.localizedDescription)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw TagganError.file(url.path, "cannot rename into place: \(reason)")
        }
    }
}
