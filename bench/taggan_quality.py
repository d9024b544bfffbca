#!/usr/bin/env python3
"""A quick look at what a trained TagGAN generator produces on a workspace in the
stand-in layout (see `taggan train --help`), in numpy, independent of the Swift code:
for every listed image, S samples G(z, x) (dropout off), each sample's nearest tag by
cosine among the tags of the training set; reports the share of samples whose nearest
tag is one of the image's own tags, beside the same share for the most frequent tag
(the prior) and for chance. A sanity check for schedules, not Eval's protocol.

    python3 bench/taggan_quality.py W [--mode cgan] [--samples 10] [--images 500] [--list F]

--list reads the images to score from F (same layout, e.g. a test split) instead of
W/training-set.tsv; candidate tags are always the training set's.
"""
import argparse
import json
import os
import struct

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
    return out


def read_word2vec_bin(path, keep):
    with open(path, "rb") as f:
        v, d = map(int, f.readline().split())
        words, rows = [], []
        for _ in range(v):
            w = b""
            while True:
                c = f.read(1)
                if c == b" ":
                    break
                if c != b"\n":
                    w += c
            vec = np.frombuffer(f.read(4 * d), dtype="<f4")
            w = w.decode()
            if w in keep:
                words.append(w)
                rows.append(vec)
    return words, np.array(rows)


def unit(a):
    n = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.maximum(n, 1e-12)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workspace")
    p.add_argument("--mode", default="cgan")
    p.add_argument("--vectors", default=None)
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--list", default=None)
    a = p.parse_args()
    folder = os.path.join(a.workspace, "models", a.mode)
    record = json.load(open(os.path.join(folder, "checkpoint.json")))
    config = record["configuration"]
    w = read_safetensors(os.path.join(folder, record["weights"]))
    emb = np.load(os.path.join(a.workspace, "embeddings.npy"))
    lines = [l.rstrip("\n").split("\t") for l in open(os.path.join(a.workspace, "training-set.tsv")) if not l.startswith("#")]
    train_lists = [(int(l[0]), l[1:]) for l in lines]
    vocab = sorted({t for _, ts in train_lists for t in ts})
    lists = train_lists
    if a.list:
        lists = [(int(l[0]), l[1:]) for l in (x.rstrip("\n").split("\t") for x in open(a.list) if not x.startswith("#"))]
    words, vectors = read_word2vec_bin(a.vectors or record["data"]["source"]["vectors"], set(vocab))
    index = {t: i for i, t in enumerate(words)}
    vectors = unit(vectors)
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(lists), min(a.images, len(lists)), replace=False)
    x = emb[[lists[i][0] for i in chosen]]
    if config.get("unit_features", False):
        x = unit(x)
    relu = lambda v: np.maximum(v, 0)
    s = a.samples
    hx = relu(x @ w["generator.feature.weight"] + w["generator.feature.bias"])
    hx = np.repeat(hx, s, axis=0)
    z = rng.standard_normal((len(chosen) * s, config["sizes"]["noise_size"])).astype("f4")
    hz = relu(z @ w["generator.noise.weight"] + w["generator.noise.bias"])
    fake = np.concatenate([hz, hx], 1) @ w["generator.output.weight"] + w["generator.output.bias"]
    nearest = (unit(fake) @ vectors.T).argmax(1)
    own = [set(index[t] for t in lists[i][1] if t in index) for i in chosen]
    hits = np.mean([nearest[k] in own[k // s] for k in range(len(nearest))])
    counts = np.bincount([index[t] for _, ts in train_lists for t in ts if t in index], minlength=len(words))
    top = counts.argmax()
    prior = np.mean([top in o for o in own])
    # k-NN tag transfer for reference: the nearest training image's tags (cosine).
    train_x = unit(emb[[r for r, _ in train_lists]])
    sims = unit(emb[[lists[i][0] for i in chosen]]) @ train_x.T
    if not a.list:
        sims[np.arange(len(chosen)), chosen] = -2  # not itself
    nn_tags = [set(index[t] for t in train_lists[j][1] if t in index) for j in sims.argmax(1)]
    knn = np.mean([len(n & o) / max(len(n), 1) for n, o in zip(nn_tags, own)])
    chance = np.mean([len(o) for o in own]) / len(words)
    distinct = len(set(nearest.tolist()))
    print(json.dumps({"mode": a.mode, "step": record["step"], "sample_hits_own_tag": round(float(hits), 4),
                      "most_frequent_tag_hits": round(float(prior), 4),
                      "nearest_image_tag_precision": round(float(knn), 4), "chance": round(float(chance), 5),
                      "distinct_nearest_tags": distinct, "fake_norm_mean": round(float(np.linalg.norm(fake, axis=1).mean()), 3)}))


if __name__ == "__main__":
    main()
