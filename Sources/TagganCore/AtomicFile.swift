import Foundation

/// Writes files so that a reader never sees a half-written one: the bytes go to a
/// temporary file in the same folder (same file system), are flushed to disk, and the
/// temporary file is renamed over the destination (rename(2) is atomic on POSIX).
///
/// The temporary file of `NAME` is `.NAME.taggan-tmp` (NAME shortened so that the whole
/// stays within 255 bytes), created with open(2) and held under an exclusive flock(2)
/// until it has been renamed. A run killed mid-write leaves that file behind, unlocked
/// (the kernel drops a dead process's locks): the next write of NAME takes it over, and
/// `removeStaleTemporary(of:)` removes it for a caller that finds nothing to write. A
/// temporary file another live process holds is left alone (this write then uses
/// `.NAME.taggan-tmp-PID`), so two processes never write into one temporary file.
///
/// What the destination already is decides how it is written:
/// - nothing, or a regular file: atomically, as above;
/// - a symbolic link: through the link (the link stays; its final target is written
///   atomically, or directly when that target is a device, a FIFO or a socket);
/// - a character device, FIFO or socket (`/dev/stdout`, a pipe): written directly, as
///   a stream cannot be replaced;
/// - a folder or a block device: refused, with an error naming the path.
public enum AtomicFile {
    /// The file's bytes (memory-mapped where safe), or an error naming the file and why
    /// it cannot be read — the reading counterpart every loader uses. A folder where the
    /// file should be is said to be one ("is a folder, not `what`": "a CSV file"), not
    /// left to Foundation's "The operation could not be completed".
    public static func read(_ url: URL, as what: String = "a file") throws -> Data {
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            var s = stat()
            if stat(url.path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR { throw TagganError.file(url.path, "is a folder, not \(what)") }
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

    /// Streams into the temporary file through `body`, then renames it into place (or,
    /// for a destination that is a device, FIFO or socket, streams into it directly).
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        var s = stat()
        var keptMode: mode_t?
        if lstat(url.path, &s) == 0 {
            switch s.st_mode & S_IFMT {
            case S_IFREG: keptMode = s.st_mode & 0o7777   // a file the user made private stays private
            case S_IFLNK:
                var followed = stat()
                if stat(url.path, &followed) == 0 && (followed.st_mode & S_IFMT) != S_IFREG
                    && (followed.st_mode & S_IFMT) != S_IFDIR && (followed.st_mode & S_IFMT) != S_IFBLK {
                    return try writeDirectly(to: url, body)
                }
                return try write(to: try linkTarget(of: url), body)
            case S_IFDIR: throw TagganError.file(url.path, "is a folder, not a file")
            case S_IFBLK: throw TagganError.file(url.path, "is a block device: refusing to write to it")
            default: return try writeDirectly(to: url, body)
            }
        }
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw TagganError.file(url.path, "cannot create its folder \(folder.path): \(reason(error))")
        }
        let (temporary, descriptor) = try openTemporary(for: url)
        if let keptMode { fchmod(descriptor, keptMode) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        // Closing releases the lock: only after the rename, so that no other writer can
        // take over the file while it is still the temporary one.
        defer { close(descriptor) }
        do {
            try body(handle)
            try handle.synchronize()
        } catch {
            unlink(temporary.path)
            throw TagganError.file(url.path, "write failed: \(reason(error))")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary.path)
            throw TagganError.file(url.path, "cannot rename into place: \(why)")
        }
    }

    /// Throws the error `write(to: url)` would, for the reasons known before any byte is
    /// written: a folder or block device at `url`, a parent that is a file, a folder in
    /// which no file can be made (read-only, another user's). For commands that write
    /// their output after minutes or hours of work, or after changing other files (annotate's
    /// sidecars): they check first. Creates nothing (a probe file is made and removed in
    /// the nearest existing folder); a device, FIFO or socket at `url` is not opened.
    public static func checkWritable(_ url: URL) throws {
        var s = stat()
        if lstat(url.path, &s) == 0 {
            switch s.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFLNK:
                var followed = stat()
                if stat(url.path, &followed) == 0 && (followed.st_mode & S_IFMT) != S_IFREG
                    && (followed.st_mode & S_IFMT) != S_IFDIR && (followed.st_mode & S_IFMT) != S_IFBLK { return }
                return try checkWritable(try linkTarget(of: url))
            case S_IFDIR: throw TagganError.file(url.path, "is a folder, not a file")
            case S_IFBLK: throw TagganError.file(url.path, "is a block device: refusing to write to it")
            default: return
            }
        }
        let parent = url.deletingLastPathComponent()
        var folder = parent
        while lstat(folder.path, &s) != 0 {
            guard errno == ENOENT || errno == ENOTDIR, folder.path != "/" else {
                throw TagganError.file(url.path, "cannot create its folder \(parent.path): \(String(cString: strerror(errno)))")
            }
            folder = folder.deletingLastPathComponent()
        }
        guard stat(folder.path, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR else {
            throw TagganError.file(url.path, "cannot create its folder \(parent.path): \(folder.path) is not a folder")
        }
        let probe = folder.appendingPathComponent(".taggan-write-check-\(getpid())").path
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let why = String(cString: strerror(errno))
            throw TagganError.file(url.path, folder == parent ? "cannot write into its folder \(folder.path): \(why)"
                                   : "cannot create its folder \(parent.path) in \(folder.path): \(why)")
        }
        close(descriptor)
        unlink(probe)
    }

    /// The temporary file `write` uses for `url` (see the type's comment).
    public static func temporaryURL(for url: URL, process: Int32? = nil) -> URL {
        let suffix = ".taggan-tmp" + (process.map { "-\($0)" } ?? "")
        var name = url.lastPathComponent
        // 255 bytes is the usual limit of one name; cut on a character boundary.
        while 1 + name.utf8.count + suffix.utf8.count > 255 { name.removeLast() }
        return url.deletingLastPathComponent().appendingPathComponent("." + name + suffix)
    }

    /// Removes the temporary file a killed write of `url` left behind, when no live
    /// process holds it; for callers that found the destination already up to date.
    public static func removeStaleTemporary(of url: URL) {
        let temporary = temporaryURL(for: url)
        let descriptor = open(temporary.path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 && isSameFile(descriptor, temporary.path) { unlink(temporary.path) }
    }

    /// Creates (or takes over, when a killed run left it) the temporary file of `url`,
    /// locked; when another live process holds it, a temporary file named for this one.
    private static func openTemporary(for url: URL) throws -> (URL, Int32) {
        let shared = temporaryURL(for: url)
        for _ in 0..<3 {
            let descriptor = open(shared.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw creationError(url, shared) }
            if flock(descriptor, LOCK_EX | LOCK_NB) != 0 { close(descriptor); break }
            // Renamed into place by its last holder between our open and our lock: the
            // name is free again, or another writer's; try again.
            guard isSameFile(descriptor, shared.path) else { close(descriptor); continue }
            guard ftruncate(descriptor, 0) == 0 else {
                close(descriptor)
                throw TagganError.file(url.path, "cannot empty the temporary file \(shared.path): \(String(cString: strerror(errno)))")
            }
            return (shared, descriptor)
        }
        let own = temporaryURL(for: url, process: ProcessInfo.processInfo.processIdentifier)
        let descriptor = open(own.path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw creationError(url, own) }
        return (own, descriptor)
    }

    private static func creationError(_ url: URL, _ temporary: URL) -> TagganError {
        TagganError.file(url.path, "cannot create the temporary file \(temporary.path): \(String(cString: strerror(errno)))")
    }

    private static func isSameFile(_ descriptor: Int32, _ path: String) -> Bool {
        var open = stat(), named = stat()
        return fstat(descriptor, &open) == 0 && lstat(path, &named) == 0
            && open.st_dev == named.st_dev && open.st_ino == named.st_ino
    }

    /// The final target of the symbolic link `url` (a chain of links followed, relative
    /// targets taken from each link's folder); the target need not exist yet.
    public static func linkTarget(of url: URL) throws -> URL {
        var target = url
        var s = stat()
        var hops = 0
        while lstat(target.path, &s) == 0, (s.st_mode & S_IFMT) == S_IFLNK {
            hops += 1
            guard hops <= 32, let destination = try? FileManager.default.destinationOfSymbolicLink(atPath: target.path) else {
                throw TagganError.file(url.path, "too many levels of symbolic links")
            }
            target = destination.hasPrefix("/") ? URL(fileURLWithPath: destination)
                : target.deletingLastPathComponent().appendingPathComponent(destination)
        }
        return target   // not standardized: ".." after a linked folder is the kernel's to resolve
    }

    /// Streams into a device, FIFO or socket (or a link to one) as it is.
    private static func writeDirectly(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let descriptor = open(url.path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else { throw TagganError.file(url.path, "cannot open for writing: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        do {
            try body(FileHandle(fileDescriptor: descriptor, closeOnDealloc: false))
        } catch {
            throw TagganError.file(url.path, "write failed: \(reason(error))")
        }
    }

    private static func reason(_ error: Error) -> String {
        if let taggan = error as? TagganError { return "\(taggan)" }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedFailureReason ?? ns.localizedDescription
    }
}
