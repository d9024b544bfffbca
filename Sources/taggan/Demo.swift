import Foundation
import TagganCore

/// `taggan demo`: the whole pipeline on the bundled default data. It runs each stage
/// that is built and names the ones that are not, so the README's first command always
/// shows where the project stands.
enum Demo {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let workspace = arguments.value("--workspace") ?? "demo-workspace"
        Log.info("demo: workspace \(workspace)")
        let start = DispatchTime.now().uptimeNanoseconds
        let backend: BLAS.Backend
        do { backend = try BLAS.backend() } catch { throw TagganError.failure("\(error)") }
        let gflops = try BLAS.measureGFLOPS(size: 1024, repeats: 3)
        Log.info(String(format: "demo: numeric core ready: %@ kernel %@, sgemm 1024^3 %.1f GFLOP/s",
                        backend.library as NSString, (backend.kernel ?? "unknown") as NSString, gflops))
        let stages = Commands.all.filter { ["ingest", "vectors train", "features", "train", "eval", "annotate"]
            .contains($0.words.joined(separator: " ")) }
        var pending: [String] = []
        for stage in stages {
            if let issue = stage.notBuiltYet {
                Log.info("demo: \(stage.name): not built yet (\(issue)); skipped")
                pending.append(stage.name)
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if arguments.json {
            JSONSummary.print([
                "command": "demo", "workspace": workspace, "seconds": seconds,
                "sgemm_gflops": gflops, "stages_not_built": pending,
            ])
        } else {
            print("demo finished in \(String(format: "%.1f", seconds)) s; stages not built yet: "
                  + (pending.isEmpty ? "none" : pending.joined(separator: ", ")))
        }
        return 0
    }
}
