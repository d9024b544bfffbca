import Foundation

/// numpy's `.npy` format for matrices, so `numpy.load` opens taggan's arrays directly.
///
/// Layout (format 1.0): the magic `\x93NUMPY`, version bytes 1 0, a little-endian
/// UInt16 header length, then a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (5404, 1280), }` padded with
/// spaces and a newline so the data starts on a 64-byte boundary, then the values in
/// row-major order. Version 2.0 (UInt32 header length) is read too.
public enum NPY {
    /// Writes `tensor` as little-endian float32, atomically.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try AtomicFile.write(encode(tensor), to: url)
    }

    public static func encode(_ tensor: Tensor) -> Data {
        var data = encodeHeader(shape: tensor.shape)
        tensor.withUnsafeBufferPointer { data.append(encodeValues($0)) }
        return data
    }

    /// Reads a C-order array of float32, float64, int32 or int64 as a Float tensor.
    public static func read(contentsOf url: URL) throws -> Tensor {
        try decode(try AtomicFile.read(url), path: url.path)
    }

    /// What a `.npy` header says: the element type, the shape and where the values start.
    public struct Header: Sendable, Equatable {
        /// "<f4", "<f8", "<i4" or "<i8".
        public var descr: String
        public var shape: [Int]
        /// Byte offset of the first value.
        public var dataOffset: Int
        /// Bytes per value.
        public var width: Int { descr.hasSuffix("8") ? 8 : 4 }
        public var count: Int { shape.reduce(1, *) }
    }

    /// The header at the start of `data` (which may be only the file's first bytes), or an
    /// error naming `path` and what is wrong with it.
    public static func header(_ data: Data, path: String) throws -> Header {
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw TagganError.file(path, "not a .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw TagganError.file(path, "truncated .npy header") }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw TagganError.file(path, "unsupported .npy version \(major)")
        }
        guard headerStart + headerLength <= data.count else { throw TagganError.file(path, "truncated .npy header") }
        let start = data.startIndex + headerStart
        let header = String(decoding: data[start ..< start + headerLength], as: UTF8.self)
        guard let descr = field("descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")),
              let order = field("fortran_order", in: header),
              let shapeText = field("shape", in: header)
        else { throw TagganError.file(path, "malformed .npy header: \(header)") }
        guard order.trimmingCharacters(in: .whitespaces) == "False" else {
            throw TagganError.file(path, "Fortran-ordered arrays are not supported")
        }
        let shape = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard ["<f4", "<i4", "<f8", "<i8"].contains(descr) else {
            throw TagganError.file(path, "unsupported dtype \(descr) (expected <f4, <f8, <i4 or <i8)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TagganError.file(path, "negative shape \(shape)") }
        return Header(descr: descr, shape: shape, dataOffset: headerStart + headerLength)
    }

    /// The header of the file at `url`, reading only its first bytes.
    public static func header(contentsOf url: URL) throws -> Header {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw TagganError.file(url.path, "cannot read") }
        defer { try? handle.close() }
        var data = (try? handle.read(upToCount: 4096)) ?? Data()
        // A header longer than 4 KiB (version 2's length field allows it) is read whole.
        if data.count >= 12, data[data.startIndex + 6] >= 2 {
            let length = data[data.startIndex + 8 ..< data.startIndex + 12].reversed().reduce(0) { $0 << 8 | Int($1) }
            if 12 + length > data.count {
                try? handle.seek(toOffset: 0)
                data = (try? handle.read(upToCount: 12 + length)) ?? data
            }
        }
        return try header(data, path: url.path)
    }

    /// The header of a C-order float32 matrix of `rows` x `columns`, padded so that the
    /// values start on a 64-byte boundary: the bytes `encode` starts with.
    public static func encodeHeader(shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        return data
    }

    /// `values` as little-endian float32 bytes.
    public static func encodeValues<C: Collection>(_ values: C) -> Data where C.Element == Float {
        #if _endian(little)
        if let data = values.withContiguousStorageIfAvailable({ Data(buffer: $0) }) { return data }
        #endif
        var data = Data(capacity: values.count * 4)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    /// The values of `bytes` (of the type `header` names) as Float, `bytes` holding whole values.
    public static func values(_ bytes: Data, as header: Header) -> [Float] {
        let width = header.width, count = bytes.count / width
        #if _endian(little)
        if header.descr == "<f4" {
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0 ..< count * 4]))
                }
                initialised = count
            }
        }
        #endif
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { p in
            for i in 0..<count {
                switch header.descr {
                case "<f4": values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case "<f8": values[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                case "<i4": values[i] = Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                default: values[i] = Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                }
            }
        }
        return values
    }

    public static func decode(_ data: Data, path: String = "array.npy") throws -> Tensor {
        let header = try header(data, path: path)
        let count = header.count, available = data.count - header.dataOffset
        guard available == count * header.width else {
            throw TagganError.file(path, "shape \(header.shape) of \(header.descr) needs \(count * header.width) bytes, file holds \(available)")
        }
        let start = data.startIndex + header.dataOffset
        return Tensor(shape: header.shape, values: values(data[start...], as: header))
    }

    /// The text after `'key':` in a Python dict literal, up to the next top-level comma.
    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        var depth = 0
        var value = ""
        for character in header[range.upperBound...] {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if (character == "," && depth == 0) || character == "}" { break }
            value.append(character)
        }
        return value.trimmingCharacters(in: .whitespaces)
    }
}
