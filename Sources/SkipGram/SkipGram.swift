// SkipGram: vocabulary with a frequency cutoff, skip-gram training with negative
// sampling, word2vec binary/text I/O and word-vector evaluation (analogies, similarity).
// Imports only TagganCore. Built by the SkipGram issue; nothing is implemented yet.
