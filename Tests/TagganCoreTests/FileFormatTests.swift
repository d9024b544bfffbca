import Foundation
import Testing
@testable import TagganCore

@Suite("safetensors and .npy files")
struct FileFormatTests {
    @Test func safetensorsRoundTrip() throws {
        var random = SeededRandom(seed: 4)
        let weights = SafeTensors(
            tensors: ["layer.weight": .gaussian(shape: [3, 5], using: &random),
                      "layer.bias": .gaussian(shape: [5], using: &random),
                      "empty": Tensor(zeros: [0, 4])],
            metadata: ["format": "taggan", "step": "12"])
        let decoded = try SafeTensors.decode(weights.encoded())
        #expect(decoded.tensors == weights.tensors)
        #expect(decoded.metadata == weights.metadata)
        // The layout other readers rely on: 8-byte length, JSON header padded to 8.
        let data = weights.encoded()
        let length = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(length % 8 == 0)
        let header = try #require(JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + Int(length))) as? [String: Any])
        let bias = try #require(header["layer.bias"] as? [String: Any])
        #expect(bias["dtype"] as? String == "F32")
        #expect(bias["shape"] as? [Int] == [5])
    }

    @Test func safetensorsReadsHalfAndBFloat16() throws {
        // Hand-made file: F16 [1.0, -2.0] and BF16 [0.5]; header is exactly 8-aligned.
        var json = #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}"#
        while json.utf8.count % 8 != 0 { json += " " }
        var data = Data()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(json.utf8))
        data.append(contentsOf: [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x3F])
        let decoded = try SafeTensors.decode(data)
        #expect(decoded.tensors["a"]?.storage == [1, -2])
        #expect(decoded.tensors["b"]?.storage == [0.5])
    }

    static let badSafetensors: [(String, Data, String)] = {
        func file(_ json: String, data: [UInt8]) -> Data {
            var d = Data()
            withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(json.utf8))
            d.append(contentsOf: data)
            return d
        }
        return [
            ("short", Data([1, 2, 3]), "w.safetensors: not a safetensors file: 3 bytes"),
            ("header too long", file("{}", data: []).prefix(8) + Data("{}".utf8).prefix(1), "w.safetensors: header claims 2 bytes but the file holds 1"),
            ("not json", file("nope", data: []), "w.safetensors: header is not a JSON object"),
            ("truncated data", file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [0, 0, 0, 0]),
             "w.safetensors: tensor 'w': data offsets [0, 16] outside the 4 data bytes (truncated file?)"),
            ("wrong size", file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
             "w.safetensors: tensor 'w': 4 bytes for shape [2] of F32"),
            ("dtype", file(#"{"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
             "w.safetensors: tensor 'w': unsupported dtype I8"),
        ]
    }()

    @Test("bad safetensors files are errors naming the file and tensor", arguments: badSafetensors)
    func badSafetensorsFile(_ name: String, _ data: Data, _ message: String) {
        #expect(throws: TagganError.file("w.safetensors", String(message.dropFirst("w.safetensors: ".count)))) {
            _ = try SafeTensors.decode(data, path: "w.safetensors")
        }
    }

    @Test func expectedShapeIsChecked() throws {
        let weights = SafeTensors(tensors: ["conv.weight": Tensor(zeros: [8, 3, 3, 3])])
        #expect(throws: TagganError.file("m.safetensors", "tensor 'conv.weight' has shape [8, 3, 3, 3], expected [16, 3, 3, 3]")) {
            _ = try weights.tensor("conv.weight", shape: [16, 3, 3, 3], in: "m.safetensors")
        }
        #expect(throws: TagganError.file("m.safetensors", "tensor 'fc.bias' is missing")) {
            _ = try weights.tensor("fc.bias", in: "m.safetensors")
        }
    }

    @Test func npyRoundTripAndLayout() throws {
        let matrix = Tensor(shape: [3, 2], values: [1, 2, 3, 4.5, -5, 6])
        let data = NPY.encode(matrix)
        #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: data.subdata(in: 10 ..< 10 + headerLength), as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"))
        #expect(header.hasSuffix("\n"))
        #expect(try NPY.decode(data) == matrix)
        let vector = Tensor(shape: [4], values: [1, 2, 3, 4])
        #expect(try NPY.decode(NPY.encode(vector)) == vector)
    }

    @Test func npyRejectsBadFiles() {
        #expect(throws: TagganError.file("x.npy", "not a .npy file (bad magic)")) {
            _ = try NPY.decode(Data("hello world!".utf8), path: "x.npy")
        }
        let truncated = NPY.encode(Tensor(shape: [2, 2], values: [1, 2, 3, 4])).dropLast(4)
        #expect(throws: TagganError.file("x.npy", "shape [2, 2] of <f4 needs 16 bytes, file holds 12")) {
            _ = try NPY.decode(Data(truncated), path: "x.npy")
        }
    }
}
