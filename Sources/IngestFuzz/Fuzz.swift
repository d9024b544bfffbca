import Foundation
import Ingest

/// libFuzzer entry point over Ingest's parsers of untrusted bytes. The first byte picks
/// the parser, the rest is its input: 0 image decoder (JPEG and PNG by content, with a
/// small pixel limit), 1 XMP/RDF reader, 2 embedded-XMP extraction (JPEG APP1, PNG
/// iTXt with zlib) and EXIF orientation. Built only with TAGGAN_FUZZ=1; see README.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let data = Data(bytes: start + 1, count: count - 1)
    switch start[0] % 3 {
    case 0:
        let decoder = ImageDecoder(maxPixels: 4_000_000)
        _ = try? decoder.decode(data)
        _ = try? decoder.decode(data, targetShorterSide: 8)
    case 1:
        _ = try? XMPReader.parse(data)
    default:
        if let packet = ImageMetadata.embeddedXMP(in: data) { _ = try? XMPReader.parse(packet) }
        _ = ExifOrientation.read(fromJPEG: data)
    }
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point under this name; hand control to libFuzzer.
@_cdecl("IngestFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { fuzz($0, $1) }
}
