// The 100k-image simulation of issue 13 (bench/scale.sh runs it, one stage per process
// so that each stage's peak memory is its own). A synthetic workspace: N images with
// random 1280-d features drawn around 1,000 cluster centres (so neighbours mean
// something), tags Zipf-distributed over 2,000 names (4 to 12 per image, mean ~8, as MIR
// Flickr's raw tags average 8.9), split 80/10/10 by content hash as ingest splits.
//
//   ScaleBench STAGE --images N [--workspace DIR]
//   STAGE: catalog | features-write | neighbours | knn | tagprop
//
// Prints one JSON line: the stage, N, seconds for each step, and the process's peak
// resident memory (getrusage), which includes the synthetic inputs.
import CSQLite
import Eval
import Foundation
import Ingest
import TagGAN
import TagganCore
import Workspace

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: String) -> String {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return fallback }
    return arguments[i + 1]
}
let stage = arguments.count > 1 ? arguments[1] : "catalog"
let n = Int(option("--images", "100000"))!
let workspace = URL(fileURLWithPath: option("--workspace", NSTemporaryDirectory() + "taggan-scale-\(n)"))
let featureSize = 1280, tagCount = 2_000

/// CPU seconds (user + system, all threads) this process has used.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}
var result: [String: Any] = ["stage": stage, "images": n]
/// Runs `body`, recording its wall time as `<name>_seconds` and its CPU time as
/// `<name>_cpu_seconds` (the machine is shared: CPU time is what load changes least).
@MainActor func measure(_ name: String, _ body: () throws -> Void) rethrows {
    let start = DispatchTime.now().uptimeNanoseconds, cpu = cpuSeconds()
    try body()
    result["\(name)_seconds"] = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    result["\(name)_cpu_seconds"] = cpuSeconds() - cpu
}
func peakMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024   // kilobytes on Linux
}

/// Image i's content hash (hex SHA-256 of its index) and tags (Zipf over tagCount).
func hash(_ i: Int) -> String { SHA256.hex(Data("image \(i)".utf8)) }
func tags(_ i: Int) -> [Int] {
    var random = SeededRandom(seed: UInt64(i) &+ 17)
    let count = 4 + random.index(below: 9)
    var chosen = Set<Int>()
    while chosen.count < count {
        // Zipf(1) by inversion of the harmonic CDF, approximately: rank = exp(u * ln(V)).
        let u = Double(random.next() >> 11) / Double(1 << 53)
        chosen.insert(min(tagCount - 1, Int(exp(u * log(Double(tagCount)))) - 1))
    }
    return chosen.sorted()
}
/// Features: cluster centre (1,000 of them) plus noise, rows in image order.
/// The 1,000 cluster centres (made once: `features` is called per part).
let centres: Tensor = {
    var centresRandom = SeededRandom(seed: 99)
    return Tensor.gaussian(shape: [1_000, featureSize], using: &centresRandom)
}()
func features(_ rows: Range<Int>) -> Tensor {
    var values = [Float](repeating: 0, count: rows.count * featureSize)
    values.withUnsafeMutableBufferPointer { out in
        nonisolated(unsafe) let o = out.baseAddress!
        Parallel.forEach(rows.count) { r in
            var random = SeededRandom(seed: UInt64(rows.lowerBound + r), stream: 3)
            let centre = random.index(below: 1_000)
            for c in 0..<featureSize {
                o[r * featureSize + c] = centres.storage[centre * featureSize + c] + 0.8 * random.gaussian()
            }
        }
    }
    return Tensor(shape: [rows.count, featureSize], values: values)
}

func check(_ code: Int32, _ db: OpaquePointer?) {
    if code != SQLITE_OK && code != SQLITE_DONE && code != SQLITE_ROW {
        fatalError("sqlite: \(String(cString: sqlite3_errmsg(db)))")
    }
}

switch stage {
case "catalog":
    // Rows as ingest writes them (one transaction), through the catalog's own schema.
    try? FileManager.default.removeItem(at: workspace)
    _ = try Catalog(workspace: workspace)
    let rule = Catalog.SplitRule()
    var db: OpaquePointer?
    check(sqlite3_open(workspace.appendingPathComponent(Catalog.fileName).path, &db), db)
    let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    measure("insert") {
        check(sqlite3_exec(db, "BEGIN", nil, nil, nil), db)
        for t in 0..<tagCount { check(sqlite3_exec(db, "INSERT INTO tags(id, name) VALUES (\(t + 1), 'tag\(t)')", nil, nil, nil), db) }
        var image: OpaquePointer?, file: OpaquePointer?, fileTag: OpaquePointer?
        sqlite3_prepare_v2(db, "INSERT INTO images VALUES (?, ?, 'jpeg', 500, 333, ?)", -1, &image, nil)
        sqlite3_prepare_v2(db, "INSERT INTO files VALUES (?, ?, ?, 100000, 0, 0, NULL)", -1, &file, nil)
        sqlite3_prepare_v2(db, "INSERT INTO file_tags VALUES (?, ?, ?)", -1, &fileTag, nil)
        for i in 0..<n {
            let h = hash(i), id = Catalog.imageID(hash: h), key = "mirflickr/im\(i).jpg"
            sqlite3_bind_int64(image, 1, Int64(id)); sqlite3_bind_text(image, 2, h, -1, transient)
            sqlite3_bind_text(image, 3, rule.split(hash: h).rawValue, -1, transient)
            check(sqlite3_step(image), db); sqlite3_reset(image)
            sqlite3_bind_text(file, 1, key, -1, transient); sqlite3_bind_text(file, 2, "/data/" + key, -1, transient)
            sqlite3_bind_int64(file, 3, Int64(id))
            check(sqlite3_step(file), db); sqlite3_reset(file)
            for t in tags(i) {
                sqlite3_bind_text(fileTag, 1, key, -1, transient); sqlite3_bind_int64(fileTag, 2, Int64(t + 1))
                sqlite3_bind_text(fileTag, 3, "tag\(t)", -1, transient)
                check(sqlite3_step(fileTag), db); sqlite3_reset(fileTag)
            }
        }
        [image, file, fileTag].forEach { sqlite3_finalize($0) }
        check(sqlite3_exec(db, "COMMIT", nil, nil, nil), db)
    }
    sqlite3_close(db)
    let catalog = try Catalog(workspace: workspace)
    var images: [Catalog.Image] = []
    try measure("images") { images = try catalog.images() }
    try measure("images_test_split") { _ = try catalog.images(split: .test) }
    try measure("statistics") { _ = try catalog.statistics() }
    try measure("mark_processed") { try catalog.markProcessed(images.map(\.id), stage: "features", model: "efficientnet-lite0") }
    try measure("processed") { _ = try catalog.processed(stage: "features", model: "efficientnet-lite0") }
    try measure("store_annotations") {
        try catalog.storeAnnotations(images.map { ($0.id, Catalog.StoredAnnotation(tags: Array($0.tags.prefix(10)), confidences: [Double](repeating: 0.5, count: min(10, $0.tags.count)))) }, model: "knn")
    }
    try measure("annotations") { _ = try catalog.annotations(model: "knn") }
    try measure("export_tag_corpus") { try catalog.exportTagCorpus(to: workspace.appendingPathComponent("tags.txt")) }
    result["catalog_megabytes"] = Double((try FileManager.default.attributesOfItem(atPath: catalog.url.path)[.size] as? Int) ?? 0) / 1e6
    result["tag_assignments"] = try catalog.statistics()["tag_assignments"] ?? 0

case "features-write":
    // The features command's write path (Workspace's EmbeddingFiles): a part of 512 rows
    // committed after every 512 images, then one streamed join of the parts into the
    // matrix at the run's end; and the read a resumed run or train does. The rows are
    // generated one part at a time, as the network makes them, so the peak memory is the
    // path's own (one part, plus the join's block buffer and the row ids).
    try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
    let files = EmbeddingFiles(workspace: workspace, model: "efficientnet-lite0", shard: nil)
    result["matrix_megabytes"] = Double(n * featureSize * 4) / 1e6
    // Only the appends are timed, not the making of the synthetic rows.
    var appendWall = 0.0, appendCPU = 0.0
    for first in stride(from: 0, to: n, by: 512) {
        var rows = EmbeddingFiles.Rows()
        let part = features(first ..< min(first + 512, n))
        rows.values = part.storage
        rows.ids = (first ..< min(first + 512, n)).map { Catalog.imageID(hash: hash($0)) }
        rows.keys = (first ..< min(first + 512, n)).map { "mirflickr/im\($0).jpg" }
        let start = DispatchTime.now().uptimeNanoseconds, cpu = cpuSeconds()
        try files.append(rows, featureSize: featureSize)
        appendWall += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        appendCPU += cpuSeconds() - cpu
    }
    result["append_parts_seconds"] = appendWall
    result["append_parts_cpu_seconds"] = appendCPU
    result["append_peak_megabytes"] = peakMB()
    try measure("join") { try files.consolidate(featureSize: featureSize) }
    result["join_peak_megabytes"] = peakMB()
    try measure("ids") { _ = try files.ids(featureSize: featureSize) }
    try measure("read") { _ = try files.read(featureSize: featureSize) }
    try? FileManager.default.removeItem(at: files.matrix)
    try? FileManager.default.removeItem(at: files.mapping)

case "neighbours":
    // IC-GAN's neighbourhoods A_i: k = 50 nearest of every image (TagGAN's blocked search).
    let matrix = features(0..<n)
    var table: NeighbourTable?
    result["k"] = 50
    measure("search") { table = NeighbourSearch.nearest(matrix, k: 50) }
    result["table_megabytes"] = Double(table!.indices.count * 4) / 1e6

case "knn", "tagprop":
    // Train = the 80% train split, queries = the 10% test split, as eval does.
    let rule = Catalog.SplitRule()
    var train: [Int] = [], test: [Int] = []
    for i in 0..<n {
        switch rule.split(hash: hash(i)) {
        case .train: train.append(i)
        case .test: test.append(i)
        case .validation: break
        }
    }
    let all = features(0..<n)
    func rows(_ indices: [Int]) -> Tensor {
        var values = [Float](); values.reserveCapacity(indices.count * featureSize)
        for i in indices { values += all.storage[i * featureSize ..< (i + 1) * featureSize] }
        return Tensor(shape: [indices.count, featureSize], values: values)
    }
    let trainFeatures = rows(train), testFeatures = rows(test)
    let trainTags = train.map { Set(tags($0)) }
    result["train"] = train.count
    result["queries"] = test.count
    if stage == "knn" {
        var index: CosineIndex?
        measure("index") { index = CosineIndex(trainFeatures) }
        result["k"] = 20
        measure("score") {
            _ = Baselines.knnTransfer(index: index!, trainTags: trainTags, queries: testFeatures, k: 20, top: 10)
        }
    } else {
        let setting = TagProp.Setting(neighbours: 20, weighting: .rank, sigmoid: false)
        result["setting"] = setting.description
        var model: TagProp?
        measure("fit") {
            model = TagProp.fit(trainFeatures: trainFeatures, trainTags: trainTags, tagCount: tagCount, setting: setting)
        }
        measure("score") { _ = model!.rank(queries: testFeatures, top: 10) }
    }

default:
    FileHandle.standardError.write(Data("ScaleBench: unknown stage '\(stage)' (catalog, features-write, neighbours, knn, tagprop)\n".utf8))
    exit(2)
}
result["peak_megabytes"] = peakMB()
result["threads"] = Parallel.defaultThreads
print(JSONSummary.render(result))
