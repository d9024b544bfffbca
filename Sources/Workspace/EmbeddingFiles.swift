import Features
import Foundation
import TagganCore

/// The embeddings of a workspace: `W/embeddings.npy` (rows x 1280, float32) and
/// `W/embeddings.tsv` (row, catalog image id, image key) for lite0; other models and
/// shards get `embeddings-<model>` / `-shard-I-of-N` in the names.
///
/// How a run adds rows without rewriting the matrix: each batch of new rows goes to a
/// part, `W/embeddings.parts/NNNNNNNN.npy` + `.tsv` (each file written atomically, the
/// `.tsv` last: it commits the part), and at the end of the run the parts are joined into
/// the matrix in one streamed write (`consolidate`). So a run of N images writes each row
/// about twice, whatever N, and holds one part in memory, not the matrix. What a kill
/// leaves, and how a reader sees it:
/// - a part's `.npy` without its `.tsv`: not committed, ignored, overwritten by the next part;
/// - a new matrix beside the old mapping (killed between the two renames of `consolidate`):
///   the matrix's rows past the mapping's are ignored, the parts still hold them;
/// - the new matrix and mapping with the parts not yet removed: a part's rows whose image
///   already has a row are ignored (rows are keyed by image id; the first one counts).
/// `read` (what train, eval and annotate load) sees every committed row, parts included,
/// so a killed `taggan features` loses at most its last part.
public struct EmbeddingFiles: Sendable {
    public let matrix: URL
    public let mapping: URL
    /// The folder of parts not yet joined into `matrix`.
    public let parts: URL

    public init(workspace: URL, model: String, shard: ShardSpec?) {
        var stem = Self.stem(model)
        if let shard { stem += "-" + shard.fileSuffix }
        matrix = workspace.appendingPathComponent(stem + ".npy")
        mapping = workspace.appendingPathComponent(stem + ".tsv")
        parts = workspace.appendingPathComponent(stem + ".parts")
    }

    static func stem(_ model: String) -> String {
        model == EfficientNetConfig.lite0.name ? "embeddings" : "embeddings-\(model)"
    }

    /// The rows one read found: image ids, keys and the row-major values.
    public struct Rows: Sendable {
        public var ids: [Int] = [], keys: [String] = [], values: [Float] = []
        public init() {}
    }

    /// The shard files of `model` in the workspace (`--shard I/N` runs, or shard
    /// files copied in from other machines), in name order: every shard with a matrix,
    /// a mapping or parts.
    public static func shards(in workspace: URL, model: String) -> [EmbeddingFiles] {
        let prefix = stem(model) + "-shard-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workspace.path)) ?? []
        var seen = Set<ShardSpec>()
        return names.sorted().compactMap { name in
            guard name.hasPrefix(prefix), !name.hasPrefix("."),
                  let dot = name.lastIndex(of: "."), [".npy", ".tsv", ".parts"].contains(String(name[dot...])) else { return nil }
            let parts = name[name.index(name.startIndex, offsetBy: prefix.count) ..< dot].split(separator: "-")
            guard parts.count == 3, parts[1] == "of", let i = Int(parts[0]), let n = Int(parts[2]),
                  let shard = try? ShardSpec(index: i, count: n), seen.insert(shard).inserted else { return nil }
            return EmbeddingFiles(workspace: workspace, model: model, shard: shard)
        }
    }

    /// Whether any of the files (matrix, mapping, parts) exists.
    public var exist: Bool {
        [matrix, mapping, parts].contains { FileManager.default.fileExists(atPath: $0.path) }
    }

    // MARK: Committed rows

    /// One matrix file and the rows of it that its mapping commits.
    struct Segment: Sendable {
        let matrix: URL
        let header: NPY.Header
        var ids: [Int] = []
        var keys: [String] = []
    }

    /// The mapping's rows; none when it does not exist.
    static func mappingRows(_ url: URL) throws -> (ids: [Int], keys: [String]) {
        guard FileManager.default.fileExists(atPath: url.path) else { return ([], []) }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TagganError.file(url.path, "unreadable (it maps an embedding matrix's rows to images)")
        }
        // Lines (empty ones skipped) after the header, each "row<TAB>id<TAB>key", the key
        // everything after the second tab: read as bytes, since a workspace of a million
        // images has a million lines (String's split per character was most of the time).
        var ids: [Int] = [], keys: [String] = []
        var utf8 = text
        try utf8.withUTF8 { bytes in
            let newline = UInt8(ascii: "\n"), tab = UInt8(ascii: "\t"), carriageReturn = UInt8(ascii: "\r")
            for whole in bytes.split(separator: newline).dropFirst() {
                // A file saved with CRLF line ends reads as the same rows (the \r is no part of a key).
                let line = whole.last == carriageReturn ? whole.dropLast() : whole
                guard let first = line.firstIndex(of: tab), let second = line[(first + 1)...].firstIndex(of: tab),
                      let id = Int(String(decoding: line[(first + 1) ..< second], as: UTF8.self)) else {
                    throw TagganError.file(url.path, "malformed line '\(String(decoding: line, as: UTF8.self))'")
                }
                ids.append(id)
                keys.append(String(decoding: line[(second + 1)...], as: UTF8.self))
            }
        }
        return (ids, keys)
    }

    /// A matrix and its mapping as a segment: `exact` when the matrix must have exactly
    /// the mapping's rows (a part), else at least as many (the matrix, whose extra rows are
    /// an interrupted `consolidate`'s).
    static func segment(matrix: URL, mapping: URL, featureSize: Int, exact: Bool) throws -> Segment {
        let header = try NPY.header(contentsOf: matrix)
        let (ids, keys) = try mappingRows(mapping)
        let size = (try? FileManager.default.attributesOfItem(atPath: matrix.path)[.size] as? Int) ?? 0
        guard header.shape.count == 2, header.shape[1] == featureSize,
              exact ? header.shape[0] == ids.count : header.shape[0] >= ids.count else {
            throw TagganError.file(matrix.path, "shape \(header.shape) does not match \(ids.count) rows of "
                                   + "\(mapping.lastPathComponent) x \(featureSize)")
        }
        guard size - header.dataOffset == header.count * header.width else {
            throw TagganError.file(matrix.path, "shape \(header.shape) needs \(header.count * header.width) bytes of values, "
                                   + "the file holds \(size - header.dataOffset)")
        }
        if header.shape[0] > ids.count {
            Log.infoOnce("features: \(header.shape[0] - ids.count) rows of \(matrix.lastPathComponent) past \(mapping.lastPathComponent) "
                     + "(an interrupted write) are ignored")
        }
        return Segment(matrix: matrix, header: header, ids: ids, keys: keys)
    }

    /// The committed parts' numbers, in order (a part is committed once its mapping exists).
    func partNumbers() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parts.path)) ?? []
        return names.compactMap { name in name.hasSuffix(".tsv") ? Int(name.dropLast(4)) : nil }.sorted()
    }

    func partFiles(_ number: Int) -> (matrix: URL, mapping: URL) {
        let name = String(format: "%08d", number)
        return (parts.appendingPathComponent(name + ".npy"), parts.appendingPathComponent(name + ".tsv"))
    }

    /// Every committed segment: the matrix's, then each part's. A mapping without its
    /// matrix is an error; a matrix without its mapping (killed before its first
    /// mapping) commits nothing.
    func segments(featureSize: Int) throws -> [Segment] {
        let fm = FileManager.default
        var result: [Segment] = []
        if fm.fileExists(atPath: matrix.path) {
            result.append(try Self.segment(matrix: matrix, mapping: mapping, featureSize: featureSize, exact: false))
        } else if fm.fileExists(atPath: mapping.path) {
            throw TagganError.file(matrix.path, "missing (\(mapping.lastPathComponent) maps its rows to images)")
        }
        for number in partNumbers() {
            let (m, t) = partFiles(number)
            guard fm.fileExists(atPath: m.path) else {
                throw TagganError.file(m.path, "missing (\(t.lastPathComponent) maps its rows to images)")
            }
            result.append(try Self.segment(matrix: m, mapping: t, featureSize: featureSize, exact: true))
        }
        return result
    }

    /// Throws unless the image of every committed row (the matrix's mapping's and each
    /// part's) is in the shard `manifest` names (`ShardManifest.checkRows`), naming the
    /// mapping and the first row that is not: shard files are checked before they are
    /// taken in.
    func checkRows(in manifest: ShardManifest) throws {
        for url in [mapping] + partNumbers().map({ partFiles($0).mapping }) {
            let (ids, keys) = try Self.mappingRows(url)
            try manifest.checkRows(ids, source: url.path) { "line \($0 + 2) (\(keys[$0]))" }
        }
    }

    /// The image ids of every committed row (each once, in row order), without the values.
    public func ids(featureSize: Int) throws -> [Int] {
        var seen = Set<Int>(), ids: [Int] = []
        for segment in try segments(featureSize: featureSize) {
            for id in segment.ids where seen.insert(id).inserted { ids.append(id) }
        }
        return ids
    }

    /// Every committed row (the matrix's and the parts'; an image's first row only),
    /// values included: what the stages after features load.
    public func read(featureSize: Int) throws -> Rows {
        let segments = try segments(featureSize: featureSize)
        var rows = Rows(), seen = Set<Int>()
        rows.values.reserveCapacity(segments.reduce(0) { $0 + $1.ids.count } * featureSize)   // grown once, not copied as it fills
        for segment in segments {
            try Self.forEachBlock(of: segment, featureSize: featureSize, keep: { seen.insert($0).inserted }) { ids, keys, values in
                rows.ids += ids
                rows.keys += keys
                rows.values += values
            }
        }
        return rows
    }

    /// Where every committed row is (an image's first: the matrix's, then the parts', as
    /// `read` keeps them), found from the mappings alone, so that a reader can then take
    /// the rows it needs and only those (`RowIndex.values(of:)`).
    public func index(featureSize: Int) throws -> RowIndex {
        let segments = try segments(featureSize: featureSize)
        var location: [Int: RowIndex.Location] = [:]
        location.reserveCapacity(segments.reduce(0) { $0 + $1.ids.count })
        for (s, segment) in segments.enumerated() {
            for (row, id) in segment.ids.enumerated() where location[id] == nil {
                location[id] = RowIndex.Location(segment: s, row: row)
            }
        }
        return RowIndex(segments: segments, location: location, featureSize: featureSize)
    }

    /// The committed rows of a workspace's embedding files by image id (`index(featureSize:)`).
    public struct RowIndex: Sendable {
        struct Location: Sendable { let segment: Int, row: Int }
        let segments: [Segment]
        let location: [Int: Location]
        public let featureSize: Int

        /// The number of images with a row.
        public var count: Int { location.count }
        public func contains(_ id: Int) -> Bool { location[id] != nil }

        /// The rows of `ids` (each one `contains`), in that order, as one [ids.count,
        /// featureSize] matrix. The values go from the files straight into the matrix:
        /// float32 rows are read (pread) into place, a run of rows adjacent in one file
        /// with one call, so no other copy of the values is ever made. (Other .npy value
        /// types are read a run at a time and converted as `NPY.values` does.)
        public func values(of ids: [Int]) throws -> Tensor {
            let f = featureSize
            let wanted = ids.map { id -> Location in
                guard let place = location[id] else { preconditionFailure("image \(id) has no embedding row") }
                return place
            }
            var handles: [Int: FileHandle] = [:]
            defer { for handle in handles.values { try? handle.close() } }
            func handle(_ s: Int) throws -> FileHandle {
                if let open = handles[s] { return open }
                guard let opened = FileHandle(forReadingAtPath: segments[s].matrix.path) else {
                    throw TagganError.file(segments[s].matrix.path, "cannot read")
                }
                handles[s] = opened
                return opened
            }
            var matrix = [Float](repeating: 0, count: ids.count * f)
            try matrix.withUnsafeMutableBufferPointer { out in
                var start = 0
                while start < wanted.count {
                    // A run: the next rows of the same file, one after another in it.
                    var end = start + 1
                    while end < wanted.count, wanted[end].segment == wanted[start].segment,
                          wanted[end].row == wanted[end - 1].row + 1 { end += 1 }
                    let segment = segments[wanted[start].segment], rows = end - start
                    let destination = UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: out[start * f ..< end * f]))
                    let offset = segment.header.dataOffset + wanted[start].row * f * segment.header.width
                    let descriptor = try handle(wanted[start].segment).fileDescriptor
                    #if _endian(little)
                    let direct = segment.header.descr == "<f4"
                    #else
                    let direct = false
                    #endif
                    if direct {
                        try Self.read(descriptor, into: destination, at: offset, path: segment.matrix.path, rows: wanted[start].row ..< wanted[end - 1].row + 1)
                    } else {
                        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: rows * f * segment.header.width, alignment: 8)
                        defer { bytes.deallocate() }
                        try Self.read(descriptor, into: bytes, at: offset, path: segment.matrix.path, rows: wanted[start].row ..< wanted[end - 1].row + 1)
                        let converted = NPY.values(Data(bytesNoCopy: bytes.baseAddress!, count: bytes.count, deallocator: .none), as: segment.header)
                        converted.withUnsafeBytes { destination.copyMemory(from: $0) }
                    }
                    start = end
                }
            }
            return Tensor(shape: [ids.count, f], values: matrix)
        }

        /// Fills `buffer` from `descriptor` at `offset` (pread, repeated until full).
        static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String,
                         rows: Range<Int>) throws {
            var done = 0
            while done < buffer.count {
                let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    throw TagganError.file(path, n == 0 ? "truncated: rows \(rows.lowerBound)-\(rows.upperBound - 1) cannot be read"
                                           : "cannot read rows \(rows.lowerBound)-\(rows.upperBound - 1): \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    /// Calls `body` with runs of at most 1,024 kept rows of `segment` (ids, keys, values),
    /// reading the matrix in blocks so that memory holds one block.
    static func forEachBlock(of segment: Segment, featureSize f: Int, keep: (Int) -> Bool,
                             _ body: ([Int], [String], [Float]) throws -> Void) throws {
        let kept = segment.ids.indices.filter { keep(segment.ids[$0]) }
        guard !kept.isEmpty else { return }
        guard let handle = FileHandle(forReadingAtPath: segment.matrix.path) else {
            throw TagganError.file(segment.matrix.path, "cannot read")
        }
        defer { try? handle.close() }
        let rowBytes = f * segment.header.width
        var start = 0
        while start < kept.count {
            // A block: up to 1,024 kept rows spanning at most 4,096 rows of the file.
            var end = start + 1
            while end < kept.count, end - start < 1024, kept[end] - kept[start] < 4096 { end += 1 }
            let first = kept[start], last = kept[end - 1]
            try handle.seek(toOffset: UInt64(segment.header.dataOffset + first * rowBytes))
            guard let data = try handle.read(upToCount: (last - first + 1) * rowBytes), data.count == (last - first + 1) * rowBytes else {
                throw TagganError.file(segment.matrix.path, "truncated: rows \(first)-\(last) cannot be read")
            }
            let all = NPY.values(data, as: segment.header)
            var values: [Float] = []
            values.reserveCapacity((end - start) * f)
            for row in kept[start ..< end] { values += all[(row - first) * f ..< (row - first + 1) * f] }
            try body(kept[start ..< end].map { segment.ids[$0] }, kept[start ..< end].map { segment.keys[$0] }, values)
            start = end
        }
    }

    // MARK: Writing

    /// Commits `rows` as a new part: its matrix, then its mapping (the commit point).
    public func append(_ rows: Rows, featureSize: Int) throws {
        let number = (partNumbers().last ?? 0) + 1
        let (m, t) = partFiles(number)
        try NPY.write(Tensor(shape: [rows.ids.count, featureSize], values: rows.values), to: m)
        FaultInjection.point("features.part")
        try AtomicFile.write(Self.mappingText(ids: rows.ids, keys: rows.keys), to: t)
        FaultInjection.point("features.part-mapping")
    }

    static func mappingText(ids: [Int], keys: [String], firstRow: Int = 0, header: Bool = true) -> String {
        var text = header ? "row\timage_id\tkey\n" : ""
        for (row, (id, key)) in zip(ids, keys).enumerated() { text += "\(firstRow + row)\t\(id)\t\(key)\n" }
        return text
    }

    /// What `consolidate` wrote.
    public struct Consolidation: Sendable {
        public var rows = 0
        /// Rows that came from `extra` (shard files), and their image ids.
        public var takenIn: [Int] = []
    }

    /// Joins the parts, and the committed rows of `extra` (shard files) whose image
    /// `keep` accepts, into the matrix and mapping, streamed, then removes the parts.
    /// An image's first row counts (the matrix's, then the parts', then `extra`'s in
    /// order). The matrix is renamed into place first, then the mapping (the commit
    /// point), then the parts are removed; a kill between any two leaves files that
    /// `read` and a later `consolidate` understand (see the type's notes). Writes nothing
    /// when there is nothing new and the files are already whole; writes an empty matrix
    /// when there are no rows at all, so a finished run always leaves one.
    @discardableResult
    public func consolidate(featureSize f: Int, extra: [EmbeddingFiles] = [], keep: (Int) -> Bool = { _ in true }) throws -> Consolidation {
        let own = try segments(featureSize: f)
        let others = try extra.flatMap { try $0.segments(featureSize: f) }
        var seen = Set<Int>()
        var chosen: [(segment: Segment, rows: [Int])] = []
        var result = Consolidation()
        for (index, segment) in (own + others).enumerated() {
            let fromExtra = index >= own.count
            let rows = segment.ids.indices.filter { row in
                let id = segment.ids[row]
                return (!fromExtra || keep(id)) && seen.insert(id).inserted
            }
            if fromExtra { result.takenIn += rows.map { segment.ids[$0] } }
            chosen.append((segment, rows))
        }
        let total = chosen.reduce(0) { $0 + $1.rows.count }
        result.rows = total
        let matrixIsWhole = own.first.map { $0.matrix == matrix && $0.header.shape[0] == $0.ids.count } ?? false
        if matrixIsWhole && total == own[0].ids.count {
            // Nothing new: the parts (if any) repeat the matrix's rows.
            try removeParts()
            return result
        }
        try AtomicFile.write(to: matrix) { handle in
            try handle.write(contentsOf: NPY.encodeHeader(shape: [total, f]))
            for (segment, rows) in chosen where !rows.isEmpty {
                let wanted = Set(rows.map { segment.ids[$0] })
                var taken = Set<Int>()
                try Self.forEachBlock(of: segment, featureSize: f, keep: { wanted.contains($0) && taken.insert($0).inserted }) { _, _, values in
                    try handle.write(contentsOf: NPY.encodeValues(values))
                }
            }
        }
        FaultInjection.point("features.matrix")
        try AtomicFile.write(to: mapping) { handle in
            try handle.write(contentsOf: Data("row\timage_id\tkey\n".utf8))
            var row = 0
            for (segment, rows) in chosen {
                for block in stride(from: 0, to: rows.count, by: 4096) {
                    let slice = rows[block ..< min(block + 4096, rows.count)]
                    let text = Self.mappingText(ids: slice.map { segment.ids[$0] }, keys: slice.map { segment.keys[$0] },
                                                firstRow: row, header: false)
                    try handle.write(contentsOf: Data(text.utf8))
                    row += slice.count
                }
            }
        }
        FaultInjection.point("features.mapping")
        try removeParts()
        return result
    }

    func removeParts() throws {
        guard FileManager.default.fileExists(atPath: parts.path) else { return }
        do { try FileManager.default.removeItem(at: parts) } catch {
            throw TagganError.file(parts.path, "cannot remove the joined parts: \(error.localizedDescription)")
        }
    }
}
