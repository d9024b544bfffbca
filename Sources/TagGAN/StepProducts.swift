import TagganCore

/// Every matrix product of one `GANTrainer.trainStep` without the ranking term, in call
/// order, with its shape and transposition (`taggan bench gemm` times them; a test holds
/// the list to what the step really calls, `BLAS.recordingProducts`).
///
/// With B the batch, R = blocks x B the rows D sees in its own step (2: [real; fake]; 3
/// with mismatched pairs), F the feature size, d the word size, z the noise size,
/// Hn/Hf G's hidden sizes, Hw/Hi D's, N = units x pieces (the maxout layer's outputs)
/// and U the maxout units. A Linear layer y = x W + b makes three: x W (NN, forward),
/// x^T dy (TN, dW) and dy W^T (NT, dx); D's maxout layer is split into its word rows and
/// its image rows (`Discriminator`), the image rows on the B images only.
///
/// At the paper's sizes (B 100, F 1280, d 200) the step is about 7.7 GFLOP, two thirds of
/// it in the maxout layer's six products (N = 3000).
public enum StepProducts {
    public static func paperStep(sizes s: NetworkSizes, batch b: Int, blocks: Int = 2) -> [ProductShape] {
        let hn = s.generatorNoiseHidden, hf = s.generatorFeatureHidden, joint = hn + hf
        let hw = s.discriminatorWordHidden, hi = s.discriminatorFeatureHidden
        let n = s.maxoutUnits * s.maxoutPieces, u = s.maxoutUnits
        let f = s.featureSize, d = s.wordSize, z = s.noiseSize
        func forwardD(_ pass: String, rows r: Int) -> [ProductShape] {
            [
                ProductShape("\(pass) D.word x W", .none, .none, m: r, n: hw, k: d),
                ProductShape("\(pass) D.feature x W", .none, .none, m: b, n: hi, k: f),
                ProductShape("\(pass) D.maxout image x W", .none, .none, m: b, n: n, k: hi),
                ProductShape("\(pass) D.maxout word x W", .none, .none, m: r, n: n, k: hw),
                ProductShape("\(pass) D.output x W", .none, .none, m: r, n: 1, k: u),
            ]
        }
        let r = blocks * b
        return [
            ProductShape("G.noise x W", .none, .none, m: b, n: hn, k: z),
            ProductShape("G.feature x W", .none, .none, m: b, n: hf, k: f),
            ProductShape("G.output x W", .none, .none, m: b, n: d, k: joint),
        ] + forwardD("D step:", rows: r) + [
            ProductShape("D step: D.output dW", .transposed, .none, m: u, n: 1, k: r),
            ProductShape("D step: D.output dx", .none, .transposed, m: r, n: u, k: 1),
            ProductShape("D step: D.maxout word dx", .none, .transposed, m: r, n: hw, k: n),
            ProductShape("D step: D.maxout word dW", .transposed, .none, m: hw, n: n, k: r),
            ProductShape("D step: D.word dW", .transposed, .none, m: d, n: hw, k: r),
            ProductShape("D step: D.maxout image dW", .transposed, .none, m: hi, n: n, k: b),
            ProductShape("D step: D.maxout image dx", .none, .transposed, m: b, n: hi, k: n),
            ProductShape("D step: D.feature dW", .transposed, .none, m: f, n: hi, k: b),
        ] + forwardD("G step:", rows: b) + [
            ProductShape("G step: D.output dx", .none, .transposed, m: b, n: u, k: 1),
            ProductShape("G step: D.maxout word dx", .none, .transposed, m: b, n: hw, k: n),
            ProductShape("G step: D.word dx", .none, .transposed, m: b, n: d, k: hw),
            ProductShape("G.output dW", .transposed, .none, m: joint, n: d, k: b),
            ProductShape("G.output dx", .none, .transposed, m: b, n: joint, k: d),
            ProductShape("G.noise dW", .transposed, .none, m: z, n: hn, k: b),
            ProductShape("G.feature dW", .transposed, .none, m: f, n: hf, k: b),
        ]
    }
}
