#!/usr/bin/env python3
"""Writes a synthetic TagGAN workspace shaped like OpenClipart for benchmarks and smoke
runs (not a test oracle): W/embeddings.npy (N x F float32, non-negative like pooled
EfficientNet features), W/training-set.tsv (ROW<TAB>TAG...; ~3.7 tags per image, Zipf
tag frequencies, tags tied to feature clusters) and a word2vec binary file (D-d vectors
for the tags plus extra words), the stand-in layout `taggan train` reads (see
`taggan train --help`).

    python3 bench/taggan_fixture.py W [--images 5400] [--features 1280] [--dim 200]
"""
import argparse
import os

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workspace")
    p.add_argument("--images", type=int, default=5400)
    p.add_argument("--features", type=int, default=1280)
    p.add_argument("--dim", type=int, default=200)
    p.add_argument("--tags", type=int, default=2000)
    p.add_argument("--clusters", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.workspace, exist_ok=True)

    prototypes = np.abs(rng.normal(0, 1, (a.clusters, a.features)))
    cluster = rng.integers(0, a.clusters, a.images)
    features = np.maximum(prototypes[cluster] + rng.normal(0, 0.5, (a.images, a.features)), 0)
    np.save(os.path.join(a.workspace, "embeddings.npy"), features.astype("<f4"))

    # Each cluster favours a few tags; tags overall follow a Zipf-like law.
    words = [f"tag{i}" for i in range(a.tags)]
    popularity = 1.0 / np.arange(1, a.tags + 1)
    favourite = [rng.choice(a.tags, 4, replace=False, p=popularity / popularity.sum()) for _ in range(a.clusters)]
    with open(os.path.join(a.workspace, "training-set.tsv"), "w") as f:
        f.write("# ROW<TAB>TAG... (synthetic, bench/taggan_fixture.py)\n")
        for i in range(a.images):
            count = max(1, min(8, rng.poisson(3.7)))
            own = list(favourite[cluster[i]][: min(count, 3)])
            while len(own) < count:
                own.append(rng.choice(a.tags, p=popularity / popularity.sum()))
            f.write(str(i) + "\t" + "\t".join(words[t] for t in dict.fromkeys(own)) + "\n")

    vocabulary = words + [f"word{i}" for i in range(1000)]
    vectors = rng.normal(0, 1, (len(vocabulary), a.dim)).astype("<f4")
    vectors *= np.exp(rng.normal(0, 0.5, (len(vocabulary), 1))).astype("<f4")
    with open(os.path.join(a.workspace, "vectors.bin"), "wb") as f:
        f.write(f"{len(vocabulary)} {a.dim}\n".encode())
        for w, v in zip(vocabulary, vectors):
            f.write(w.encode() + b" " + v.tobytes() + b"\n")


if __name__ == "__main__":
    main()
