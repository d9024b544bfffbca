import Foundation
import Testing
import TagganCore
@testable import TagGAN

/// Serialized: `BLAS.recordingProducts` keeps one recording at a time, so the two
/// arguments' steps must not run at once (the later one's start took over the earlier's).
@Suite("TagGAN step products", .serialized)
struct StepProductsTests {
    /// `StepProducts.paperStep` (what `taggan bench gemm` times) is exactly the list of
    /// sgemm calls one training step makes, shapes, transpositions and order, with and
    /// without mismatched pairs; distinct layer sizes so that a swapped size shows.
    @Test(arguments: [0.0, 0.5])
    func listMatchesTheProductsAStepCalls(mismatch: Double) throws {
        let (data, _) = try syntheticTask(images: 24, classes: 3, featureSize: 13, wordSize: 7, seed: 3)
        var configuration = tinyConfiguration(featureSize: 13, wordSize: 7)
        configuration.sizes.generatorNoiseHidden = 9
        configuration.sizes.maxoutUnits = 5
        configuration.mismatchWeight = mismatch
        let trainer = try GANTrainer(data: data, configuration: configuration)
        let (_, called) = try BLAS.recordingProducts { try trainer.trainStep() }
        let listed = StepProducts.paperStep(sizes: trainer.configuration.sizes, batch: configuration.batchSize,
                                            blocks: mismatch > 0 ? 3 : 2)
        #expect(called == listed.map(\.unnamed))
        #expect(Set(listed.map(\.name)).count == listed.count)
    }

    /// At the paper's sizes the list adds up to the step's known cost, about 7.7 GFLOP.
    @Test func paperSizesCostAbout7Point7GigaFlop() {
        let shapes = StepProducts.paperStep(sizes: NetworkSizes(featureSize: 1280, wordSize: 200), batch: 100)
        let total = shapes.reduce(0) { $0 + $1.operations }
        #expect(abs(total - 7.667e9) < 0.001e9, "\(total)")
    }
}
