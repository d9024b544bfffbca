import Foundation

/// Reads and writes the safetensors format (Hugging Face): an 8-byte little-endian
/// header length N, N bytes of JSON mapping each tensor name to
/// `{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}` (offsets relative to
/// the end of the header), an optional `"__metadata__"` object of strings, then the
/// raw little-endian data. Any tool with a safetensors reader opens taggan's models.
///
/// Reading converts F32, F16, BF16 and F64 tensors to Float; everything is checked
/// against the file's size before use, so a truncated or hostile file is an error that
/// names the tensor, never a crash.
public struct SafeTensors: Sendable {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor called `name` with the expected shape, or an error naming both.
    public func tensor(_ name: String, shape expected: [Int]? = nil, in path: String = "weights") throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw TagganError.file(path, "tensor '\(name)' is missing")
        }
        if let expected, tensor.shape != expected {
            throw TagganError.file(path, "tensor '\(name)' has shape \(tensor.shape), expected \(expected)")
        }
        return tensor
    }

    // MARK: Reading

    public static func read(contentsOf url: URL) throws -> SafeTensors {
        try decode(try AtomicFile.read(url), path: url.path)
    }

    public static func decode(_ data: Data, path: String = "safetensors") throws -> SafeTensors {
        guard data.count >= 8 else { throw TagganError.file(path, "not a safetensors file: \(data.count) bytes") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw TagganError.file(path, "header claims \(headerLength) bytes but the file holds \(data.count - 8)")
        }
        let headerData = data.subdata(in: 8 ..< 8 + Int(headerLength))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw TagganError.file(path, "header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let available = data.count - dataStart
        var result = SafeTensors()
        if let metadata = header["__metadata__"] {
            guard let strings = metadata as? [String: String] else {
                throw TagganError.file(path, "__metadata__ must map strings to strings")
            }
            result.metadata = strings
        }
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int],
                  let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw TagganError.file(path, "tensor '\(name)': malformed header entry") }
            guard let width = elementSize[dtype] else {
                throw TagganError.file(path, "tensor '\(name)': unsupported dtype \(dtype)")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw TagganError.file(path, "tensor '\(name)': negative dimension in \(shape)")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            let begin = offsets[0], end = offsets[1]
            guard !overflow, begin >= 0, end >= begin, end <= available else {
                throw TagganError.file(path, "tensor '\(name)': data offsets \(offsets) outside the \(available) data bytes (truncated file?)")
            }
            guard end - begin == count * width else {
                throw TagganError.file(path, "tensor '\(name)': \(end - begin) bytes for shape \(shape) of \(dtype)")
            }
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[dataStart + begin ..< dataStart + end])
                convert(bytes, dtype: dtype, into: &values)
            }
            result.tensors[name] = Tensor(shape: shape, values: values)
        }
        return result
    }

    static let elementSize: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8]

    private static func convert(_ bytes: UnsafeRawBufferPointer, dtype: String, into values: inout [Float]) {
        switch dtype {
        case "F32":
            for i in values.indices {
                values[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        case "F64":
            for i in values.indices {
                values[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        case "BF16":
            for i in values.indices {
                let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                values[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        default:  // F16
            for i in values.indices {
                let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                values[i] = Float(Float16(bitPattern: bits))
            }
        }
    }

    // MARK: Writing

    /// The file's bytes: tensors in name order, F32, header padded to 8 bytes.
    public func encoded() -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + 4 * tensor.count]] as [String: Any]
            offset += 4 * tensor.count
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { buffer in
                #if _endian(little)
                data.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self), count: 4 * buffer.count))
                #else
                for value in buffer { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                #endif
            }
        }
        return data
    }

    /// Writes atomically (temporary name, then rename).
    public func write(to url: URL) throws {
        try AtomicFile.write(encoded(), to: url)
    }
}
