// Features: image preprocessing and EfficientNet-Lite inference from weights on disk,
// one embedding row per image. Imports only TagganCore; decoded pixels arrive as plain
// `RGBImage` values from Ingest (through the executable), embeddings leave as a Tensor.
//
//   ImagePreprocessor   resize (antialiased), centre crop, normalise -> [N, S, S, 3]
//   EfficientNet        the network: weights (.pth or .safetensors), BN folded at load,
//                       batched forward pass -> features [N, 1280] and logits [N, 1000]
//   EfficientNetConfig  the family's variants (lite0, lite2): one entry each
//   TorchCheckpoint     reader of legacy torch checkpoints (no Python, no torch)
//   ImageNetClasses     the 1000 class names, for `taggan features --classify`
