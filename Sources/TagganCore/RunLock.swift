import Foundation

/// One run at a time per output: an exclusive flock(2) on a lock file that sits with what
/// a run writes (a model folder, a workspace's embeddings, its catalog), held for the run.
///
/// Why: two runs writing one output at once interleave their files without either
/// noticing. Two `taggan train` runs on one model each prune the weights files the other
/// one's checkpoint names; two `taggan features` runs number their parts alike, so one
/// run's values land under the other's image ids. The second run is refused at once,
/// with an error naming the output, instead.
///
/// The kernel drops a process's flock when it exits, however it exits, so a killed run
/// never blocks the resume that follows it. The lock file stays (it holds the process id
/// of its last holder, which the refusal names) and is taken over by the next run; like
/// AtomicFile's temporaries it is a dot file, `.taggan-lock` or `.NAME.taggan-lock`.
public enum RunLock {
    /// Runs `body` holding the lock of the folder `folder` (`folder/.taggan-lock`).
    public static func holding<T>(folder: URL, _ body: () throws -> T) throws -> T {
        try holding(folder.appendingPathComponent(".taggan-lock"), guarding: folder, body)
    }

    /// Runs `body` holding the lock of the file `file` and what goes with it (for
    /// `W/embeddings.npy`, `W/.embeddings.npy.taggan-lock`).
    public static func holding<T>(file: URL, _ body: () throws -> T) throws -> T {
        try holding(file.deletingLastPathComponent().appendingPathComponent("." + file.lastPathComponent + ".taggan-lock"),
                    guarding: file, body)
    }

    /// Runs `body` holding the lock file `lockFile` (created, with its folder, when
    /// missing); throws without running it when another live process holds the lock, the
    /// error naming `output` (what the lock guards) and that process.
    static func holding<T>(_ lockFile: URL, guarding output: URL, _ body: () throws -> T) throws -> T {
        let folder = lockFile.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw TagganError.file(folder.path, "cannot create the folder: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        let descriptor = open(lockFile.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TagganError.file(lockFile.path, "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }   // (closing releases the lock)
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = holderDescription(descriptor)
            throw TagganError.file(output.path, "another taggan run\(holder) holds it (lock \(lockFile.lastPathComponent)): "
                                   + "wait for that run to finish, or stop it, then run this again")
        }
        let pid = Data("\(ProcessInfo.processInfo.processIdentifier)\n".utf8)
        if ftruncate(descriptor, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) } }
        return try body()
    }

    /// " (process N)" from the lock file's content, or "" when it names none.
    private static func holderDescription(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0, let pid = Int32(String(decoding: buffer[0 ..< count], as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) else { return "" }
        return " (process \(pid))"
    }
}
