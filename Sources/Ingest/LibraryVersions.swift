import CJPEG
import CLibXML2
import CPNG
import CSQLite

/// Versions of the C libraries Ingest decodes and stores with, as the running process
/// sees them (the library loaded at run time, where it can say; headers otherwise).
public enum LibraryVersions {
    public static var libjpeg: String {
        let turbo = Int(taggan_libjpeg_turbo_version())
        if turbo > 0 {
            return "libjpeg-turbo \(turbo / 1_000_000).\(turbo / 1000 % 1000).\(turbo % 1000) (API \(JPEG_LIB_VERSION))"
        }
        return "libjpeg API \(JPEG_LIB_VERSION)"
    }

    public static var libpng: String {
        "libpng " + String(cString: png_get_libpng_ver(nil))
    }

    public static var libxml2: String {
        // The runtime reports e.g. "20914" for 2.9.14.
        let raw = String(cString: taggan_xml_runtime_version())
        if let n = Int(raw) {
            return "libxml2 \(n / 10000).\(n / 100 % 100).\(n % 100)"
        }
        return "libxml2 \(raw)"
    }

    public static var sqlite: String {
        "SQLite " + String(cString: sqlite3_libversion())
    }

    public static var all: [(name: String, version: String)] {
        [("libjpeg", libjpeg), ("libpng", libpng), ("libxml2", libxml2), ("sqlite", sqlite)]
    }
}
