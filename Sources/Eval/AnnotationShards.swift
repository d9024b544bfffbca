import Foundation
import TagganCore

/// Joins the JSON Lines or CSV files that `taggan annotate --shard I/N` runs wrote (one per
/// shard, each with its `ShardManifest` beside it as `<file>.shard.json`) into the file
/// one unsharded run would have written.
///
/// What it promises:
/// - Refusal before writing anything: shards of another kind, rule, N or settings
///   (another model, method, --top, --threshold, word lists), and two different files
///   claiming the same shard, are errors naming both files (`ShardManifest.checkOneJob`).
/// - Each image's record is kept as its shard wrote it, byte for byte, and the records
///   are put in the order annotate writes them (by path, `String` order, as
///   `DatasetReader.files` sorts), so the merge of all N shards equals an unsharded run's
///   file byte for byte.
/// - Idempotent: merging the same inputs again writes the same bytes, and an image found
///   twice in one shard's inputs with identical records (the shard listed twice) is
///   written once. The same image with different records in two inputs, or in the
///   inputs of two shards (one holds the other's rows), is an error naming both files.
/// - The output is written atomically, and only after every input was read and checked.
public enum AnnotationShards {
    public enum Format: String, Sendable {
        case jsonLines = "jsonl"
        case csv

        /// The format a file's extension says (.jsonl/.json/.ndjson, .csv).
        public init?(url: URL) {
            switch url.pathExtension.lowercased() {
            case "jsonl", "ndjson", "json": self = .jsonLines
            case "csv": self = .csv
            default: return nil
            }
        }
    }

    /// What a merge joined.
    public struct Summary: Sendable, Equatable {
        public var images = 0
        /// Images that more than one input of one shard held (identically: the shard listed twice).
        public var duplicates = 0
        /// Shard indices no input held (the output lacks their images).
        public var missingShards: [Int] = []
    }

    /// One image's record: its path and the exact text the shard wrote for it.
    struct Record {
        let path: String
        let text: String
    }

    /// Merges `inputs` (shard outputs, in any order) into `output`. See the type's
    /// promises. Throws when an input is missing, malformed or lacks its manifest.
    @discardableResult
    public static func merge(_ inputs: [URL], into output: URL, format explicit: Format? = nil) throws -> Summary {
        guard !inputs.isEmpty else { throw TagganError.failure("annotation merge: no shard files given") }
        let format = explicit ?? Format(url: output) ?? Format(url: inputs[0])
        guard let format else {
            throw TagganError.file(output.path, "cannot tell JSON Lines from CSV by its extension (.jsonl or .csv)")
        }
        let parts = try inputs.map { ($0.path, try ShardManifest.read(besides: $0)) }
        var summary = Summary()
        summary.missingShards = try ShardManifest.checkOneJob(parts, kind: "annotate")
        var byPath: [String: (record: Record, source: String, shard: Int)] = [:]
        for (input, (_, manifest)) in zip(inputs, parts) {
            let text = String(decoding: try AtomicFile.read(input), as: UTF8.self)
            let records = try format == .jsonLines ? jsonLinesRecords(text, source: input.path) : csvRecords(text, source: input.path)
            for record in records {
                if let seen = byPath[record.path] {
                    guard seen.record.text == record.text else {
                        throw TagganError.file(input.path, "tags '\(record.path)' differently from \(seen.source): "
                                               + "the two were not made by one job")
                    }
                    // Records carry no content id to check against the shard rule, but an
                    // image is in one shard only: found in two, one file holds the other's rows.
                    guard seen.shard == manifest.index else {
                        throw TagganError.file(input.path, "holds '\(record.path)', and so does \(seen.source), but they are shards "
                                               + "\(manifest.index) and \(seen.shard) of \(manifest.count) and an image is in one shard "
                                               + "only: one of the two holds the other's rows (copied under another shard's name?), "
                                               + "so nothing was merged")
                    }
                    summary.duplicates += 1
                    continue
                }
                byPath[record.path] = (record, input.path, manifest.index)
            }
        }
        let ordered = byPath.values.map(\.record).sorted { $0.path < $1.path }
        summary.images = ordered.count
        let body: String
        switch format {
        case .jsonLines: body = ordered.map { $0.text + "\n" }.joined()
        case .csv: body = "path,tag,confidence\r\n" + ordered.map(\.text).joined()
        }
        try AtomicFile.write(body, to: output)
        return summary
    }

    /// One record per line: `{"path": ..., "tags": [...]}` (`AnnotationWriter.jsonLines`).
    static func jsonLinesRecords(_ text: String, source: String) throws -> [Record] {
        var records: [Record] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let path = object["path"] as? String else {
                throw TagganError.file(source, "line \(number + 1) is not an annotation object with a \"path\"")
            }
            records.append(Record(path: path, text: String(line)))
        }
        return records
    }

    /// RFC 4180 rows `path,tag,confidence` after the header, CRLF-terminated
    /// (`AnnotationWriter.csv`); an image's rows are consecutive and form its record.
    static func csvRecords(_ text: String, source: String) throws -> [Record] {
        var rows: [(path: String, text: String)] = []
        var fields: [String] = [], field = "", rowText = ""
        var quoted = false, atFieldStart = true
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        func endRow() {
            fields.append(field)
            rows.append((fields[0], rowText))
            fields = []; field = ""; rowText = ""; atFieldStart = true
        }
        while let c = next() {
            rowText.unicodeScalars.append(c)
            if quoted {
                if c == "\"" {
                    if let after = next() {
                        if after == "\"" { rowText.unicodeScalars.append(after); field.unicodeScalars.append("\"") }
                        else { quoted = false; pending = after }  // read again, outside the quotes
                    } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"" where atFieldStart: quoted = true; atFieldStart = false
            case ",": fields.append(field); field = ""; atFieldStart = true
            case "\r":
                guard let after = next(), after == "\n" else {
                    throw TagganError.file(source, "row \(rows.count + 1): a carriage return outside quotes not followed by a line feed")
                }
                rowText.unicodeScalars.append(after)
                endRow()
            case "\n": endRow()
            default: field.unicodeScalars.append(c); atFieldStart = false
            }
        }
        if !field.isEmpty || !fields.isEmpty {
            throw TagganError.file(source, "the last row has no line ending (a truncated file?)")
        }
        guard let header = rows.first, header.text == "path,tag,confidence\r\n" else {
            throw TagganError.file(source, "not an annotation CSV (its first line is not path,tag,confidence)")
        }
        var records: [Record] = []
        var current: (path: String, text: String)?
        var seen = Set<String>()
        for row in rows.dropFirst() {
            if let c = current, c.path == row.path {
                current = (c.path, c.text + row.text)
                continue
            }
            if let c = current { records.append(Record(path: c.path, text: c.text)) }
            guard seen.insert(row.path).inserted else {
                throw TagganError.file(source, "the rows of '\(row.path)' are not consecutive")
            }
            current = row
        }
        if let c = current { records.append(Record(path: c.path, text: c.text)) }
        return records
    }
}
