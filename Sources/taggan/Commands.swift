import TagganCore

/// The command-line contract of DESIGN.md: every command is registered here with its
/// options; the ones later issues build say so and exit 2.
enum Commands {
    static let version = "0.1.0"

    static let shardOption = OptionSpec(
        name: "--shard", value: "I/N",
        help: "process only shard I of N (a stable hash of each image's path picks its shard)")

    static let all: [CommandSpec] = [
        CommandSpec(
            words: ["ingest"],
            summary: "Read images and their tags into a workspace catalog.",
            positionals: "SOURCE...", minimumPositionals: 0, maximumPositionals: nil,
            options: [
                OptionSpec(name: "--workspace", value: "W", help: "workspace folder (created if missing)", required: true),
                OptionSpec(name: "--layout", value: "L", help: "mirflickr25k, mirflickr1m, xmp or clipart (default: detected)"),
                OptionSpec(name: "--export-tag-corpus", value: "F", help: "write the train split's tag lists as a text corpus to F"),
                OptionSpec(name: "--max-pixels", value: "N", help: "refuse images with more pixels (default 50000000)"),
                OptionSpec(name: "--split", value: "T/V/E", help: "train/validation/test percentages (default: the catalog's, else 80/10/10)"),
                OptionSpec(name: "--resplit", help: "with --split: move every image already in the catalog to the new rule's split"),
                shardOption,
            ],
            discussion: """
            Layouts: MIR Flickr 25k and 1M, folders with XMP sidecars or embedded XMP, SVG+PNG clip art.
            Images are identified by content (SHA-256): aliases and copies become one image with
            the union of their tags, and the split follows the content. Re-running reads only new
            or changed files; broken files are reported and skipped. A source is its folder's
            absolute path: ingesting another folder (even one with the same name) never removes
            the first one's files. The split rule is recorded in the catalog; another --split on
            it is an error unless --resplit. Without SOURCE, --export-tag-corpus exports from the
            existing catalog.
            """,
            run: IngestCommand.run),
        CommandSpec(
            words: ["vectors", "train"],
            summary: "Train skip-gram word vectors on text corpora (word2vec-compatible output).",
            positionals: "CORPUS...", minimumPositionals: 1, maximumPositionals: nil,
            options: [
                OptionSpec(name: "--out", value: "V.bin", help: "output vectors (word2vec binary; .txt for text)", required: true),
                OptionSpec(name: "--dim", value: "N", help: "vector size (default 200)"),
                OptionSpec(name: "--window", value: "N", help: "maximum context window (default 5)"),
                OptionSpec(name: "--negative", value: "N", help: "negative samples per context word (default 5)"),
                OptionSpec(name: "--min-count", value: "N", help: "drop words seen fewer times (default 5)"),
                OptionSpec(name: "--sample", value: "T", help: "sub-sampling threshold (default 1e-3)"),
                OptionSpec(name: "--epochs", value: "N", help: "passes over the corpus (default 5)"),
                OptionSpec(name: "--threads", value: "N", help: "worker threads (default: all cores)"),
                OptionSpec(name: "--seed", value: "N", help: "random seed (default 1); with --threads 1 runs are identical"),
                OptionSpec(name: "--alpha", value: "A", help: "initial learning rate, decaying linearly to A*1e-4 (default 0.025)"),
                OptionSpec(name: "--hs", help: "add hierarchical softmax (use --negative 0 for hierarchical softmax alone)"),
                OptionSpec(name: "--algorithm", value: "A", help: "batched (shared negatives per centre word, default) or classic (word2vec's loop)"),
                OptionSpec(name: "--max-vocab", value: "N", help: "keep at most the N most frequent words"),
                OptionSpec(name: "--layout", value: "L", help: "lines (one document per line, default), paragraphs (blank lines end sentences) or yfcc (YFCC100M metadata TSV: title, description, tags)"),
                OptionSpec(name: "--format", value: "F", help: "binary or text (default: text for .txt/.vec, else binary)"),
                OptionSpec(name: "--save-vocab", value: "F", help: "also write the vocabulary as 'word count' lines to F"),
            ],
            discussion: """
            Corpora are UTF-8 text, read in streams (never whole). Tokens: lowercased runs of
            letters and digits; an apostrophe between two of them stays in the word ("don't").
            Output is word2vec's binary or text format, which gensim and word2vec read.
            """,
            run: VectorsCommands.train),
        CommandSpec(
            words: ["vectors", "eval"],
            summary: "Evaluate word vectors on analogy and similarity test sets.",
            positionals: "V.bin", minimumPositionals: 1, maximumPositionals: 1,
            options: [
                OptionSpec(name: "--analogies", value: "F", help: "analogy questions (questions-words.txt format)"),
                OptionSpec(name: "--similarity", value: "F", help: "word pairs with human scores (wordsim353/simlex999)", repeats: true),
            ],
            discussion: """
            V.bin may be word2vec binary or text, or GloVe text. Analogies: 3CosAdd over the
            30,000 most frequent words, as word2vec's compute-accuracy; questions with a word
            outside them are skipped and counted. Similarity: Spearman's rho, ties averaged.
            """,
            run: VectorsCommands.eval),
        CommandSpec(
            words: ["vectors", "nearest"],
            summary: "Print the words nearest to WORD by cosine similarity.",
            positionals: "V.bin WORD", minimumPositionals: 2, maximumPositionals: 2,
            options: [OptionSpec(name: "-k", value: "N", help: "how many neighbours (default 10)")],
            run: VectorsCommands.nearest),
        CommandSpec(
            words: ["features"],
            summary: "Embed every catalog image with a pretrained conv net.",
            options: [
                OptionSpec(name: "--workspace", value: "W", help: "workspace folder (writes W/embeddings.npy and W/embeddings.tsv)"),
                OptionSpec(name: "--model", value: "M", help: "efficientnet-lite0 (default) or efficientnet-lite2"),
                OptionSpec(name: "--weights", value: "F", help: "weights (.pth or .safetensors; default $TAGGAN_CORPORA/models/M.pth)"),
                OptionSpec(name: "--classify", value: "FILE", help: "print the top-5 ImageNet classes of FILE instead", repeats: true),
                OptionSpec(name: "--batch", value: "N", help: "images per forward pass (default 32)"),
                shardOption,
            ],
            discussion: """
            Incremental: images that already have a row are skipped, and a killed run resumes from
            its last save (every 512 images). Shards: `--shard I/N` writes
            W/embeddings-shard-I-of-N.npy/.tsv; a later run without --shard takes in every shard
            file in W (copy in those made on other machines) and embeds whatever is still missing.
            """,
            run: FeaturesCommand.run),
        CommandSpec(
            words: ["train"],
            summary: "Train the conditional GAN that generates tag vectors for an image.",
            options: TrainCommand.options,
            discussion: TrainCommand.discussion,
            run: TrainCommand.run),
        CommandSpec(
            words: ["eval"],
            summary: "Tag the test split and report metrics beside baselines.",
            options: [
                OptionSpec(name: "--workspace", value: "W", help: "workspace folder", required: true),
                OptionSpec(name: "--split", value: "S", help: "validation or test (default test)"),
                OptionSpec(name: "--report", value: "DIR", help: "folder for report.json, report.md, report.html", required: true),
                OptionSpec(name: "--vectors", value: "V.bin", help: "word vectors (default: the file each model was trained with)"),
                OptionSpec(name: "--samples", value: "N", help: "generator samples per image (default 100)"),
                OptionSpec(name: "--resamples", value: "N", help: "bootstrap resamples for the 95% intervals (default 1000)"),
                OptionSpec(name: "--examples", value: "N", help: "test images shown with thumbnails in the HTML (default 24)"),
                OptionSpec(name: "--vocab", value: "V", help: "candidate words: tags (the training tags, default), all or a FILE of words"),
            ],
            discussion: """
            Methods, each with its setting chosen on the validation split: the tag-frequency prior;
            k-NN tag transfer (k); TagProp (Guillaumin et al. 2009: K, rank or distance weights,
            sigma-ML); a linear head (ridge to the multi-hot tags, lambda); the word-space regression
            (ridge to the mean tag vector, tags by cosine: the generator's non-adversarial
            counterpart); ConSE (mean tag vector of the k nearest images); each trained model in
            W/models/ (cgan, icgan) with the paper's protocol (100 samples per image, each votes for
            its 20 nearest candidates, 10 most voted) and with its noise scale and decoder (vote,
            kernel density, density with a CSLS hubness correction) chosen on validation; and the
            fusion of the best generator with a retrieval method (weight on validation). Each
            method's scores are calibrated on validation (isotonic regression: score -> precision),
            with reliability plots in the HTML; every setting, calibration and the validation-best
            method go to W/methods.json, which taggan annotate --method auto uses. The notes give
            each decoder's ceiling (the decoder fed the images' own tag vectors). Metrics: P/R/F1
            at 5 and 10, mAP over tags with at least 5 test images, N+, each also for tags seen and
            never seen in the train split; bootstrap 95% intervals over test images.
            """,
            run: EvalCommand.run),
        CommandSpec(
            words: ["annotate"],
            summary: "Tag every image under FOLDER with the best method taggan eval measured (or the one named).",
            positionals: "FOLDER", minimumPositionals: 1, maximumPositionals: 1,
            options: [
                OptionSpec(name: "--workspace", value: "W", help: "workspace with embedded, tagged training images", required: true),
                OptionSpec(name: "--method", value: "M", help: "auto (default: the method taggan eval found best on validation, else k-NN), prior, knn, tagprop, linear, regression, conse, cgan, icgan or fusion"),
                OptionSpec(name: "--mode", value: "M", help: "cgan or icgan: the same as --method cgan|icgan"),
                OptionSpec(name: "--top", value: "N", help: "tags per image (default 10)"),
                OptionSpec(name: "--threshold", value: "P", help: "drop tags with confidence below P: after taggan eval, the precision such tags had on validation"),
                OptionSpec(name: "--exclude", value: "WORDS", help: "never suggest these (comma-separated, or @FILE)"),
                OptionSpec(name: "--include", value: "WORDS", help: "suggest only these (comma-separated, or @FILE)"),
                OptionSpec(name: "--samples", value: "N", help: "generator samples per image (default 100)"),
                OptionSpec(name: "--per-sample", value: "N", help: "generators: decode by the vote, N nearest words per sample (default: eval's decoder)"),
                OptionSpec(name: "--vocab", value: "V", help: "candidate words: tags (the training tags, default), all (every word with a vector) or a FILE of words"),
                OptionSpec(name: "--noise-scale", value: "S", help: "generators: multiplies G's noise (default: eval's choice, else 1)"),
                OptionSpec(name: "--force", help: "annotate again images already annotated by this model"),
                OptionSpec(name: "--xmp", help: "merge into each image's XMP sidecar (which one: below)"),
                OptionSpec(name: "--jsonl", value: "F", help: "write JSON Lines to F"),
                OptionSpec(name: "--csv", value: "F", help: "write CSV to F"),
                OptionSpec(name: "--vectors", value: "V.bin", help: "word vectors (default: the file the model was trained with)"),
                OptionSpec(name: "--weights", value: "F", help: "EfficientNet-Lite0 weights (default: corpora cache)"),
            ],
            discussion: """
            Methods: the training images' tags transferred by k-NN, TagProp, a linear head, ConSE or the
            word-space regression (these need only W's catalog and embeddings), a trained CGAN or
            IC-GAN (W/models/), or their fusion. --method auto (the default) takes the method with
            the best validation P@5 in W/methods.json (written by taggan eval), with eval's settings
            and calibration: a confidence is then the share of such tags that were right on
            held-back images, so --threshold 0.5 keeps tags right about half the time. Before any
            taggan eval, auto is k-NN transfer (k 5) with raw scores, and the log says so.
            Sidecars are merged, never clobbered: the user's tags and every other property stay,
            and only new tags are appended (dc:subject, digiKam:TagsList, lr:hierarchicalSubject).
            Which sidecar: photo.jpg.xmp when it exists (digiKam, darktable, exiftool), else
            photo.xmp when it exists (Lightroom, Capture One), else a new photo.jpg.xmp. A
            sidecar that is a link stays a link and its target is updated, only when the
            target is inside FOLDER; nothing outside FOLDER is written. A sidecar that is
            not valid XMP is reported and left exactly as it was.
            An image that fails to decode is reported and skipped; exit status 1 when every
            image failed. Incremental: each image's tags
            are kept in W's catalog under its content hash and the method (its setting, what it
            learnt from), so a re-run decodes only new or changed images and writes the stored tags
            of the rest (a killed run resumes after its last batch of 32); --force redoes all.
            """,
            run: AnnotateCommand.run),
        CommandSpec(
            words: ["merge"],
            summary: "Join the catalogs of shard workspaces (made with --shard I/N) into one.",
            positionals: "SHARD_WORKSPACE...", minimumPositionals: 1, maximumPositionals: nil,
            options: [OptionSpec(name: "--workspace", value: "W", help: "the workspace to merge into", required: true)],
            run: MergeCommand.run),
        CommandSpec(
            words: ["demo"],
            summary: "Run the whole pipeline on the bundled default data.",
            options: [
                OptionSpec(name: "--workspace", value: "W", help: "where to put the artifacts (default ./demo-workspace)"),
                OptionSpec(name: "--steps", value: "N", help: "training steps per model (default \(Demo.demoSteps), a shorter schedule than train's)"),
            ],
            discussion: """
            Ingests OpenClipart (without shapes/stars), trains 200-d word vectors on the English
            corpus plus the tag lists, embeds every image with EfficientNet-Lite0, trains the CGAN
            and the IC-GAN, writes the evaluation report, and tags a sample folder with XMP
            sidecars, JSON Lines and CSV. Needs the data of corpora/fetch-all.sh. Re-running
            resumes where it stopped.
            """,
            run: Demo.run),
        CommandSpec(
            words: ["doctor"],
            summary: "Show versions, the BLAS backend and kernel, and measured sgemm GFLOP/s.",
            options: [
                OptionSpec(name: "--size", value: "N", help: "matrix size for the sgemm measurement (default 1024)"),
            ],
            run: Doctor.run),
        CommandSpec(
            words: ["bench", "kernels"],
            summary: "Measure the vectorised element-wise kernels against scalar loops.",
            options: [OptionSpec(name: "--length", value: "N", help: "vector length (default 4096)")],
            run: KernelBench.run),
        CommandSpec(
            words: ["bench", "decode"],
            summary: "Measure JPEG decode-to-size throughput on a folder of JPEGs.",
            positionals: "FOLDER", minimumPositionals: 1, maximumPositionals: 1,
            options: [
                OptionSpec(name: "--size", value: "N", help: "shorter side after DCT scaling and resizing (default 224; 0: full size, no resize)"),
                OptionSpec(name: "--threads", value: "N", help: "worker threads (default 1, as djpeg)"),
            ],
            run: DecodeBench.run),
        CommandSpec(
            words: ["bench", "features"],
            summary: "Measure conv-net images/s (inference alone, and a whole folder with decoding).",
            positionals: "[FOLDER]", minimumPositionals: 0, maximumPositionals: 1,
            options: [
                OptionSpec(name: "--model", value: "M", help: "efficientnet-lite0 (default) or efficientnet-lite2"),
                OptionSpec(name: "--weights", value: "F", help: "weights file (default as for taggan features)"),
                OptionSpec(name: "--batch", value: "N", help: "images per forward pass (default 32)"),
                OptionSpec(name: "--repeats", value: "N", help: "timed batches (default 5)"),
                OptionSpec(name: "--threads", value: "N", help: "worker threads (default: all cores)"),
            ],
            run: FeaturesBench.run),
        ClassCondCommand.spec,
    ]

    static var topLevelHelp: String {
        var text = """
        taggan \(version): tag images with a conditional GAN over word vectors.

        USAGE: taggan COMMAND [options]

        COMMANDS:

        """
        let width = (all.map { $0.words.joined(separator: " ").count }.max() ?? 0) + 2
        for command in all {
            let words = command.words.joined(separator: " ")
            text += "  " + words + String(repeating: " ", count: width - words.count) + command.summary + "\n"
        }
        text += """

        Run 'taggan COMMAND --help' for a command's options. Every command prints progress
        on stderr and, with --json, one JSON summary on stdout. Exit status: 0 success
        (skipped items are reported), 1 failure, 2 bad usage.

        """
        return text
    }

    /// Commands that never multiply matrices (doctor reports a missing BLAS itself).
    static let commandsWithoutBLAS: Set<[String]> = [["ingest"], ["merge"], ["bench", "decode"], ["doctor"]]

    /// Finds the command named by the leading words of `arguments`, or explains why not.
    static func find(_ arguments: [String]) throws -> (CommandSpec, [String]) {
        let words = arguments.prefix { !$0.hasPrefix("-") }
        for length in stride(from: min(words.count, 2), through: 1, by: -1) {
            if let command = all.first(where: { $0.words == Array(words.prefix(length)) }) {
                return (command, Array(arguments.dropFirst(length)))
            }
        }
        let first = arguments[0]
        let group = all.filter { $0.words.count > 1 && $0.words[0] == first }
        if !group.isEmpty {
            let names = group.map { $0.words[1] }.joined(separator: ", ")
            if words.count < 2 {
                throw TagganError.usage("taggan \(first): missing subcommand (one of: \(names))")
            }
            throw TagganError.usage(
                "taggan \(first): unknown subcommand '\(words[1])' (one of: \(names))")
        }
        var message = "unknown command '\(first)'"
        let names = Set(all.map { $0.words[0] })
        if let close = closest(first, among: names.sorted()) { message += " (did you mean '\(close)'?)" }
        throw TagganError.usage(message + "\nRun 'taggan --help' for the list of commands.")
    }

    /// Runs the command line and returns the exit status.
    static func main(_ arguments: [String]) -> Int32 {
        if arguments.isEmpty || arguments == ["help"] || arguments.first == "--help" || arguments.first == "-h" {
            print(topLevelHelp, terminator: "")
            return arguments.isEmpty ? 2 : 0
        }
        if arguments.first == "--version" {
            print("taggan \(version)")
            return 0
        }
        do {
            if arguments.first == "help" {
                let (command, _) = try find(Array(arguments.dropFirst()))
                print(command.help, terminator: "")
                return 0
            }
            if arguments.first!.hasPrefix("-") {
                throw TagganError.usage("unknown option '\(arguments[0])'\nRun 'taggan --help' for the list of commands.")
            }
            let (command, rest) = try find(arguments)
            let parsed = try parse(rest, for: command)
            if parsed.flag("--help") {
                print(command.help, terminator: "")
                return 0
            }
            // A missing or unopenable BLAS is an error naming the library, before any work.
            if !commandsWithoutBLAS.contains(command.words) {
                do { _ = try BLAS.backend() } catch { throw TagganError.failure("\(error)") }
            }
            return try command.run(parsed)
        } catch let error as TagganError {
            Log.error(error.description)
            return error.exitStatus
        } catch {
            Log.error("\(error)")
            return 1
        }
    }
}
