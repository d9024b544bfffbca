import ArgumentParsing
import Features
import Foundation
import TagganCore
import Workspace

/// `taggan features --workspace W` and `taggan features --classify FILE...`: the
/// workspace's images through the conv net (Workspace's `FeatureExtraction`).
struct FeaturesCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["features"], summary: "Embed every catalog image with a pretrained conv net.",
        discussion: """
        Incremental: images that already have a row are skipped. New rows are committed in
        parts of 512 images (W/embeddings.parts/) and joined into the matrix once at the end, so
        a killed run resumes after its last part and the matrix is not rewritten as it grows.
        Shards: `--shard I/N` writes W/embeddings-shard-I-of-N.npy/.tsv and a manifest
        (.npy.shard.json: shard, rule, model, weights' SHA-256); a later run without --shard
        takes in every shard file in W (copy in those made on other machines), refusing shards
        of another job or other weights, and embeds whatever is still missing.
        """)

    @Option(value: "W", help: "workspace folder (writes W/embeddings.npy and W/embeddings.tsv)") var workspace: String?
    @Option(value: "M", help: "the network") var model = EfficientNetConfig.lite0
    @Option(value: "F", help: "weights (.pth or .safetensors; default $TAGGAN_CORPORA/models/M.pth)") var weights: String?
    @Option(value: "FILE", help: "print the top-5 ImageNet classes of each FILE instead", upToNextOption: true)
    var classify: [String] = []
    @Option(help: "images per forward pass", check: .within(1...1_024)) var batch = 32
    @Option(value: "I/N", help: ShardSpec.help) var shard: ShardSpec?
    var common = CommonOptions()

    func validate() throws {
        if classify.isEmpty && workspace == nil {
            throw usage("give --workspace W, or --classify FILE to check the model on images")
        }
    }

    func run() throws -> Int32 {
        if !classify.isEmpty { return printClassifications(try FeatureExtraction.loadNetwork(model, weights: weights)) }
        let skipped = SkipLog()
        let (model, weights) = (model, weights)
        let summary = try FeatureExtraction.embed(workspace: Workspace(path: workspace!), config: model,
                                                  loadNetwork: { try FeatureExtraction.loadNetwork(model, weights: weights) },
                                                  weights: FeatureExtraction.weightsURL(model, explicit: weights), batch: batch,
                                                  shard: shard, skipped: skipped)
        let files = summary.files
        if common.json {
            JSONSummary.print(["command": "features", "workspace": workspace!, "model": model.name,
                               "embedded": summary.embedded, "already_done": summary.alreadyDone, "from_shards": summary.fromShards,
                               "rows": summary.rows, "feature_size": model.featureSize, "skipped": skipped.json,
                               "embeddings": files.matrix.path, "mapping": files.mapping.path, "seconds": summary.seconds])
        } else {
            print("features: \(summary.embedded) images embedded, \(summary.alreadyDone) already done, \(summary.fromShards) from shard files; \(skipped.summary)")
            print("embeddings: \(files.matrix.path) (\(summary.rows) x \(model.featureSize)), rows -> images in \(files.mapping.lastPathComponent)")
        }
        return 0
    }

    /// `--classify`: exit status 1 when no file could be classified.
    func printClassifications(_ net: EfficientNet) -> Int32 {
        let skipped = SkipLog()
        let results = FeatureExtraction.classify(classify, net: net, skipped: skipped)
        if common.json {
            JSONSummary.print(["command": "features --classify", "model": net.config.name, "skipped": skipped.json,
                               "images": results.map { result in
                ["file": result.file, "top5": result.top5.map {
                    ["class": $0.index, "name": $0.name, "logit": $0.logit, "probability": $0.probability] as [String: Any]
                }] as [String: Any]
            }])
        } else {
            for result in results {
                print(result.file)
                for entry in result.top5 {
                    print(String(format: "  %4d  %5.1f%%  %@", entry.index, 100 * entry.probability, entry.name))
                }
            }
            if skipped.count > 0 { Log.info(skipped.summary) }
        }
        return results.isEmpty ? 1 : 0
    }
}
