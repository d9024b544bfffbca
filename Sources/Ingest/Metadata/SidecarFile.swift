import Foundation
import TagganCore

/// Where an image's XMP sidecar is, and how to write it without harming the folder.
///
/// Which file (the rule `taggan annotate --help` states):
/// 1. `<name>.<ext>.xmp` when it exists (digiKam's, darktable's and exiftool's name, and
///    the one `taggan ingest` reads first);
/// 2. else `<name>.xmp` when it exists (Lightroom's and Capture One's name), so the
///    user's own tool sees the tags rather than a second sidecar beside its own, unless
///    another image of the folder would share it (`locations(of:)`);
/// 3. else a new `<name>.<ext>.xmp` (unambiguous when `a.jpg` and `a.png` share a folder),
///    or `<name>.xmp` when `<name>.<ext>.xmp` is longer than the file system allows a name
///    to be (an image name of 252 to 255 bytes, where `<name>.xmp` still fits).
/// Both names also match in upper case (`.XMP`), as cameras and Windows tools write them.
///
/// How it is written: to a temporary name in the same folder, then renamed (AtomicFile).
/// A sidecar that is a symbolic link stays a link: the merged bytes go to the link's
/// target when that target is inside `root` (the annotated folder, symlinks resolved);
/// a link, or a folder on the way, that leads outside `root` is refused and nothing is
/// written, so annotating a folder never changes a file outside it.
public enum SidecarFile {
    /// The existing sidecar of `image`, or the name a new one gets.
    public static func location(of image: URL) -> URL {
        let long = image.appendingPathExtension("xmp")
        let base = image.deletingPathExtension(), short = base.appendingPathExtension("xmp")
        let candidates = [long, image.appendingPathExtension("XMP"), short, base.appendingPathExtension("XMP")]
        if let found = candidates.first(where: exists) { return found }
        return !fitsName(long) && fitsName(short) ? short : long
    }

    /// Whether `url`'s last component is no longer than its folder's file system allows
    /// a name to be (`pathconf`'s NAME_MAX, 255 bytes where it cannot tell).
    static func fitsName(_ url: URL) -> Bool {
        let limit = pathconf(url.deletingLastPathComponent().path, Int32(_PC_NAME_MAX))
        return url.lastPathComponent.utf8.count <= (limit > 0 ? limit : 255)
    }

    /// `location(of:)` for each of the folder's `images`, except that a `<name>.xmp` that
    /// two of them would share (`a.jpg` and `a.png` beside a raw file's `a.xmp`) is left to
    /// whichever file it belongs to: each of those images gets its own `<name>.<ext>.xmp`,
    /// so that one image's tags never land in another's sidecar.
    public static func locations(of images: [URL]) -> [URL: URL] {
        var found = Dictionary(images.map { ($0, location(of: $0)) }, uniquingKeysWith: { first, _ in first })
        var users: [URL: Int] = [:]
        for sidecar in found.values { users[sidecar, default: 0] += 1 }
        // (Where that long name does not fit the file system, `existingContents` says so.)
        for (image, sidecar) in found where users[sidecar]! > 1 { found[image] = image.appendingPathExtension("xmp") }
        return found
    }

    /// Whether something (a file, or a link, even a dangling one) has this name.
    static func exists(_ url: URL) -> Bool {
        var s = stat()
        return lstat(url.path, &s) == 0
    }

    public struct Refusal: Error, CustomStringConvertible {
        public let reason: String
        public let detail: String
        public var description: String { "\(reason): \(detail)" }
    }

    /// The file to write for `sidecar`: itself, or, for a symbolic link, its final target.
    /// Throws `Refusal` when that file (or a folder on the way) is outside `root`.
    public static func writeTarget(for sidecar: URL, inside root: URL) throws -> URL {
        let rootPath = realPath(root.path) ?? root.standardizedFileURL.path
        let target: URL
        do {
            target = try AtomicFile.linkTarget(of: sidecar)
        } catch {
            throw Refusal(reason: "sidecar link not followed", detail: "\(sidecar.path): too many levels of links")
        }
        // The folder the file lands in, with every link resolved, must be inside root.
        guard let folder = realPath(target.deletingLastPathComponent().path) else {
            throw Refusal(reason: "sidecar link not followed", detail: "\(sidecar.path): its target's folder does not exist")
        }
        let prefix = rootPath.hasSuffix("/") ? rootPath : rootPath + "/"
        guard folder == rootPath || (folder + "/").hasPrefix(prefix) else {
            throw Refusal(reason: "sidecar outside the folder", detail: "\(sidecar.path) leads to \(folder)/\(target.lastPathComponent)")
        }
        return URL(fileURLWithPath: folder).appendingPathComponent(target.lastPathComponent)
    }

    /// The bytes of the existing sidecar file `target` (a `writeTarget`, links resolved),
    /// or nil when there is none. Throws `Refusal` when something is there that is not a
    /// regular file (a FIFO, a device, a folder) or cannot be read (permissions, I/O), so
    /// that it is reported and left as it is, never taken for a missing sidecar and
    /// replaced.
    public static func existingContents(of target: URL) throws -> Data? {
        var s = stat()
        guard lstat(target.path, &s) == 0 else {
            if errno == ENOENT { return nil }
            if errno == ENAMETOOLONG {
                throw Refusal(reason: "sidecar name too long",
                              detail: "\(target.path): \(target.lastPathComponent.utf8.count) bytes, more than the file system allows a name to be; no sidecar written")
            }
            throw Refusal(reason: "sidecar unreadable", detail: "\(target.path): \(String(cString: strerror(errno))); left as it is")
        }
        guard (s.st_mode & S_IFMT) == S_IFREG else {
            throw Refusal(reason: "sidecar not a regular file", detail: "\(target.path) is \(fileKind(s.st_mode)); left as it is")
        }
        let descriptor = open(target.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw Refusal(reason: "sidecar unreadable", detail: "\(target.path): \(String(cString: strerror(errno))); left as it is")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw Refusal(reason: "sidecar unreadable", detail: "\(target.path): \(error.localizedDescription); left as it is")
        }
    }

    /// Writes `data` for `sidecar` (through a link when it stays inside `root`), keeping
    /// an existing file's permission bits and, where the writer may, its owner. Atomic.
    public static func write(_ data: Data, for sidecar: URL, inside root: URL) throws {
        let target = try writeTarget(for: sidecar, inside: root)
        var s = stat()
        let existing = stat(target.path, &s) == 0 ? s : nil
        try AtomicFile.write(data, to: target)
        if let existing {
            chmod(target.path, existing.st_mode & 0o7777)
            // The user's file stays the user's when root (or a member of its group)
            // rewrites it; an unprivileged writer cannot change the owner and keeps it.
            if existing.st_uid != geteuid() || existing.st_gid != getegid() { chown(target.path, existing.st_uid, existing.st_gid) }
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// What a file that is not a regular one is, from its `stat` mode, for messages: "a
/// folder", "a FIFO", "a device", "a socket", else "not a regular file".
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "a folder"
    case S_IFIFO: return "a FIFO"
    case S_IFCHR, S_IFBLK: return "a device"
    case S_IFSOCK: return "a socket"
    default: return "not a regular file"
    }
}
