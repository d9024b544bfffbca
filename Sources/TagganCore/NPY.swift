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
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)"
            : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        tensor.withUnsafeBufferPointer { buffer in
            for value in buffer { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        return data
    }

    /// Reads a C-order array of float32, float64, int32 or int64 as a Float tensor.
    public static func read(contentsOf url: URL) throws -> Tensor {
        try decode(try AtomicFile.read(url), path: url.path)
    }

    public static func decode(_ data: Data, path: String = "array.npy") throws -> Tensor {
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
        let header = String(decoding: data.subdata(in: headerStart ..< headerStart + headerLength), as: UTF8.self)
        guard let descr = field("descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")),
              let order = field("fortran_order", in: header),
              let shapeText = field("shape", in: header)
        else { throw TagganError.file(path, "malformed .npy header: \(header)") }
        guard order.trimmingCharacters(in: .whitespaces) == "False" else {
            throw TagganError.file(path, "Fortran-ordered arrays are not supported")
        }
        let shape = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let width: Int
        switch descr {
        case "<f4", "<i4": width = 4
        case "<f8", "<i8": width = 8
        default: throw TagganError.file(path, "unsupported dtype \(descr) (expected <f4, <f8, <i4 or <i8)")
        }
        let count = shape.reduce(1, *)
        let dataStart = headerStart + headerLength
        guard shape.allSatisfy({ $0 >= 0 }), data.count - dataStart == count * width else {
            throw TagganError.file(path, "shape \(shape) of \(descr) needs \(count * width) bytes, file holds \(data.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            let p = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
            for i in 0..<count {
                switch descr {
                case "<f4": values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case "<f8": values[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                case "<i4": values[i] = Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                default: values[i] = Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                }
            }
        }
        return Tensor(shape: shape, values: values)
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
