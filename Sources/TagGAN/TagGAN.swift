// TagGAN: layers, losses, optimiser, conditional (Mirza & Osindero 2014) and
// instance-conditioned (Casanova et al. 2021) training over tag vectors, checkpoints.
// Imports only TagganCore. Built by the TagGAN issue; nothing is here yet.
