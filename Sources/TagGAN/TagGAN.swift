// TagGAN: the conditional GAN of Mirza & Osindero (2014, section 4.2) over tag vectors,
// and the instance-conditioned variant of Casanova et al. (2021). Imports TagganCore only;
// its inputs and outputs are plain data and files.
//
// Public surface:
// - `TrainingData`: features (N x F), each image's tags as rows of the tag vectors
//   (V x D). What the command hands over; it reads no file format itself.
// - `TrainingConfiguration`, `NetworkSizes`: the paper's schedule and sizes as defaults.
// - `GANTrainer`: `train(checkpointEvery:folder:...)`, `trainStep()`, `saveCheckpoint`,
//   `init(resumingFrom:data:...)` (exact resume), divergence stops with an error.
// - `NeighbourSearch` / `NeighbourTable`: exact cosine k-NN for icgan, cached as .npy.
// - `TagSampler`: Eval's entry point, S generated vectors per image from a model folder.
// - `CheckpointRecord`: the model folder's `checkpoint.json` (config, history for plots).
// - Layers (`Linear`, `ReLU`, `Dropout`, `Maxout`, `Concatenation`,
//   `SigmoidCrossEntropy`) and the networks (`Generator`, `Discriminator`), each with an
//   explicit backward pass.
//
// Model folders: W/models/cgan/ and W/models/icgan/ (see Checkpoint.swift for the files).
