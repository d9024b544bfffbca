import Foundation
import TagganCore

/// Grey images with one class label each, the data of the paper's class-conditional
/// experiment (Mirza & Osindero 2014, section 4.1): `pixels` holds one image per row,
/// row-major, scaled to [0, 1] (value / maximum: 255 for idx files, 16 for the digits).
public struct LabelledImages: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// N x (width * height), values in [0, 1].
    public var pixels: Tensor
    /// One class in 0..<classNames.count per image.
    public var labels: [Int]
    public var classNames: [String]

    public init(width: Int, height: Int, pixels: Tensor, labels: [Int], classNames: [String]) {
        precondition(pixels.rows == labels.count && pixels.columns == width * height, "pixels and labels disagree")
        self.width = width
        self.height = height
        self.pixels = pixels
        self.labels = labels
        self.classNames = classNames
    }

    public var count: Int { labels.count }
    public var classCount: Int { classNames.count }

    /// The images at `indices`, in that order.
    public func subset(_ indices: some Sequence<Int>) -> LabelledImages {
        let d = width * height
        var values: [Float] = [], chosen: [Int] = []
        for i in indices {
            values += pixels.storage[i * d ..< (i + 1) * d]
            chosen.append(labels[i])
        }
        return LabelledImages(width: width, height: height, pixels: Tensor(shape: [chosen.count, d], values: values),
                              labels: chosen, classNames: classNames)
    }
}

/// A class-conditional data set split three ways. The validation split chooses the Parzen
/// bandwidth; the test split is reported.
public struct LabelledImageSplits: Sendable {
    public var name: String
    public var train: LabelledImages
    public var validation: LabelledImages
    public var test: LabelledImages
    /// Where the images came from and how they were split, for reports.
    public var description: String
}

/// Readers for the two class-conditional data sets the fetch scripts install.
public enum LabelledImageDatasets {
    public static let names = ["fashion-mnist", "digits"]

    public static let fashionMNISTClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// `fashion-mnist` (corpora/fetch-fashion-mnist.sh) or `digits` (corpora/fetch-digits.sh)
    /// from `folder`.
    ///
    /// - fashion-mnist: train = the first 50,000 of the 60,000 training images, validation
    ///   the last 10,000, test the 10,000 t10k images (the 50k/10k/10k split Goodfellow et
    ///   al. 2014 used for MNIST).
    /// - digits: the 1,797 images shuffled once with a fixed seed (0), then 1,199 train,
    ///   299 validation, 299 test (a sixth each held out).
    public static func load(_ name: String, folder: URL) throws -> LabelledImageSplits {
        // A file given as the folder is said to be one, not left to its first data file
        // failing to open.
        var s = stat()
        if stat(folder.path, &s) == 0 && (s.st_mode & S_IFMT) != S_IFDIR {
            throw TagganError.file(folder.path, "is a file, not a folder (the folder holding the data set's files)")
        }
        switch name {
        case "fashion-mnist":
            func idx(_ prefix: String) throws -> LabelledImages {
                try IDXFile.readImages(folder.appendingPathComponent("\(prefix)-images-idx3-ubyte"),
                                       labels: folder.appendingPathComponent("\(prefix)-labels-idx1-ubyte"),
                                       classNames: fashionMNISTClasses)
            }
            let all = try idx("train"), test = try idx("t10k")
            let validation = min(10_000, all.count / 6)
            return LabelledImageSplits(
                name: name, train: all.subset(0 ..< all.count - validation),
                validation: all.subset(all.count - validation ..< all.count), test: test,
                description: "Fashion-MNIST (Debian dataset-fashion-mnist): 28x28, train \(all.count - validation) / "
                    + "validation \(validation) (the last of the training file) / test \(test.count) (t10k)")
        case "digits":
            let all = try DigitsCSV.read(folder.appendingPathComponent("digits.csv"))
            var order = Array(0 ..< all.count)
            var random = SeededRandom(seed: 0)
            random.shuffle(&order)
            let held = all.count / 6
            let train = all.count - 2 * held
            return LabelledImageSplits(
                name: name, train: all.subset(order[..<train]), validation: all.subset(order[train ..< train + held]),
                test: all.subset(order[(train + held)...]),
                description: "scikit-learn's digits (UCI optdigits test part, PyPI scikit-learn 1.7.2): 8x8, "
                    + "shuffled (seed 0) into train \(train) / validation \(held) / test \(all.count - train - held)")
        default:
            throw UnknownDataset(name: name, known: names)
        }
    }
}

/// The idx format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header, magic
/// 0x00000803 (unsigned bytes, 3 dimensions: count, rows, columns) for images and
/// 0x00000801 (count) for labels, then the bytes.
public enum IDXFile {
    public static func readImages(_ imagesURL: URL, labels labelsURL: URL, classNames: [String]) throws -> LabelledImages {
        let images = try AtomicFile.read(imagesURL, as: "an idx image file"), labels = try AtomicFile.read(labelsURL, as: "an idx label file")
        func word(_ data: Data, _ i: Int) -> Int {
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int in
                var value = 0
                for b in 0..<4 { value = value << 8 | Int(raw[i * 4 + b]) }
                return value
            }
        }
        guard images.count >= 16, word(images, 0) == 0x0803 else {
            throw TagganError.file(imagesURL.path, "not an idx image file (expected magic 0x00000803 and a 16-byte header)")
        }
        guard labels.count >= 8, word(labels, 0) == 0x0801 else {
            throw TagganError.file(labelsURL.path, "not an idx label file (expected magic 0x00000801 and an 8-byte header)")
        }
        let count = word(images, 1), rows = word(images, 2), columns = word(images, 3)
        // Each size is up to 2^32 - 1, so their product can pass Int's range: multiplied
        // with overflow reported, a header no file could match is said to be one.
        let (pixels, wide) = rows.multipliedReportingOverflow(by: columns)
        let (total, long) = count.multipliedReportingOverflow(by: pixels)
        let (expected, longer) = total.addingReportingOverflow(16)
        guard !(wide || long || longer) else {
            throw TagganError.file(imagesURL.path, "its header says \(count) images of \(rows)x\(columns): sizes too large "
                                   + "(their product overflows), a corrupt header?")
        }
        guard rows > 0, columns > 0, images.count == expected else {
            throw TagganError.file(imagesURL.path, "\(images.count) bytes do not hold \(count) images of \(rows)x\(columns) "
                                   + "(expected \(expected)): truncated?")
        }
        guard word(labels, 1) == count, labels.count == 8 + count else {
            throw TagganError.file(labelsURL.path, "holds \(word(labels, 1)) labels in \(labels.count) bytes; "
                                   + "\(imagesURL.lastPathComponent) has \(count) images")
        }
        let d = rows * columns
        var values = [Float](repeating: 0, count: count * d), classes = [Int](repeating: 0, count: count)
        images.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for i in 0 ..< count * d { values[i] = Float(raw[16 + i]) / 255 }
        }
        try labels.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for i in 0 ..< count {
                let label = Int(raw[8 + i])
                guard label < classNames.count else {
                    throw TagganError.file(labelsURL.path, "label \(label) of item \(i) is not one of the \(classNames.count) classes")
                }
                classes[i] = label
            }
        }
        return LabelledImages(width: columns, height: rows, pixels: Tensor(shape: [count, d], values: values),
                              labels: classes, classNames: classNames)
    }
}

/// scikit-learn's `digits.csv`: one image per line, 64 comma-separated pixel values (8x8,
/// 0..16) and the label 0..9.
public enum DigitsCSV {
    public static func read(_ url: URL) throws -> LabelledImages {
        let data = try AtomicFile.read(url, as: "a CSV file")
        guard let text = String(data: data, encoding: .utf8) else { throw TagganError.file(url.path, "not UTF-8 text") }
        var values: [Float] = [], labels: [Int] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",")
            guard fields.count == 65 else {
                throw TagganError.file(url.path, "line \(number + 1): \(fields.count) fields, expected 65 (64 pixels and the label)")
            }
            for (column, field) in fields.enumerated() {
                guard let v = Double(field.trimmingCharacters(in: .whitespaces)), v == v.rounded(),
                      column < 64 ? (0...16).contains(v) : (0...9).contains(v) else {
                    throw TagganError.file(url.path, "line \(number + 1), field \(column + 1): '\(field)' is not "
                                           + (column < 64 ? "a pixel value 0..16" : "a label 0..9"))
                }
                if column < 64 { values.append(Float(v) / 16) } else { labels.append(Int(v)) }
            }
        }
        guard !labels.isEmpty else { throw TagganError.file(url.path, "no images") }
        return LabelledImages(width: 8, height: 8, pixels: Tensor(shape: [labels.count, 64], values: values),
                              labels: labels, classNames: (0...9).map(String.init))
    }
}

/// A data set name `LabelledImageDatasets` does not know.
public struct UnknownDataset: Error, CustomStringConvertible, Equatable {
    public let name: String
    public let known: [String]
    public var description: String { "unknown data set '\(name)' (one of: \(known.joined(separator: ", ")))" }
}
