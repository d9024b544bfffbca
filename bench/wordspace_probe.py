#!/usr/bin/env python3
"""Probe of the word space the generator works in (issue 11, "tag-aware word vectors"):
how well does a deterministic ridge regression into the space tag, and do transformed
vectors (retrofitting toward the train split's tag co-occurrence graph, Faruqui et al.
NAACL 2015; centring and removing top principal components, Mu & Viswanath ICLR 2018)
make that regression better?  A measurement script, not part of taggan's run path.

    python3 bench/wordspace_probe.py W        # W: a workspace after ingest, features, and W/vectors.bin

Prints validation/test P@5 and test mAP of the regression for each space, and the
'oracle' P@5 of decoding each test image's own mean tag vector (the space's ceiling for
any method that predicts one vector per image).
"""
import sqlite3
import sys

import numpy as np


def read_word2vec(path):
    with open(path, "rb") as f:
        n, d = map(int, f.readline().split())
        words, matrix = [], np.zeros((n, d), np.float32)
        for i in range(n):
            w = b""
            while True:
                c = f.read(1)
                if c == b" ":
                    break
                if c != b"\n":
                    w += c
            words.append(w.decode("utf8"))
            matrix[i] = np.frombuffer(f.read(4 * d), np.float32)
    return words, matrix


def load(workspace):
    features = np.load(workspace + "/embeddings.npy")
    rows = [line.split("\t") for line in open(workspace + "/embeddings.tsv").read().splitlines()[1:]]
    ids = [int(r[1]) for r in rows]
    db = sqlite3.connect(workspace + "/catalog.sqlite")
    split = dict(db.execute("select id, split from images"))
    tags = {}
    query = "select f.image_id, t.name from files f join file_tags ft on ft.key = f.key join tags t on t.id = ft.tag_id"
    for image, name in db.execute(query):
        tags.setdefault(image, set()).add(name)
    keep = [r for r, i in enumerate(ids) if i in tags]
    ids = [ids[r] for r in keep]
    return features[keep], np.array([split[i] for i in ids]), [tags[i] for i in ids]


def precision_at(scores, truth, k=5):
    top = np.argsort(-scores, axis=1)[:, :k]
    return float(np.mean([len(set(t) & truth[i]) / k for i, t in enumerate(top)]))


def mean_ap(scores, truth, minimum=5):
    labels = np.zeros(scores.shape, bool)
    for i, t in enumerate(truth):
        labels[i, list(t)] = True
    aps = []
    for j in range(scores.shape[1]):
        positives = labels[:, j].sum()
        if positives < minimum:
            continue
        y = labels[np.argsort(-scores[:, j], kind="stable"), j]
        aps.append(float((np.cumsum(y) / np.arange(1, len(y) + 1) * y).sum() / positives))
    return float(np.mean(aps))


def main(workspace):
    x, split, tags = load(workspace)
    words, vectors = read_word2vec(workspace + "/vectors.bin")
    index = {w: i for i, w in enumerate(words)}
    train, validation, test = split == "train", split == "validation", split == "test"
    names = sorted(t for t in set().union(*[tags[i] for i in np.where(train)[0]]) if t in index)
    tag_id = {t: i for i, t in enumerate(names)}
    truth = [set(tag_id[t] for t in ts if t in tag_id) for ts in tags]
    xc = x - x[train].mean(0)
    xc /= np.linalg.norm(xc, axis=1, keepdims=True)
    base = vectors[[index[t] for t in names]]
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    multi_hot = np.zeros((len(tags), len(names)), np.float32)
    for i, t in enumerate(truth):
        multi_hot[i, list(t)] = 1
    test_truth = [truth[i] for i in np.where(test)[0]]
    validation_truth = [truth[i] for i in np.where(validation)[0]]
    print(f"{len(names)} train tags with vectors; {train.sum()} train, {validation.sum()} validation, {test.sum()} test images")

    def regression(space, label, lam=1.0):
        space = space / np.linalg.norm(space, axis=1, keepdims=True)
        target = np.zeros((len(tags), space.shape[1]), np.float32)
        for i, t in enumerate(truth):
            if t:
                m = space[list(t)].mean(0)
                target[i] = m / np.linalg.norm(m)
        a = xc[train]
        weights = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ target[train])
        predicted = xc @ weights
        predicted /= np.linalg.norm(predicted, axis=1, keepdims=True)
        scores = predicted @ space.T
        print(f"{label:34s} val P@5 {precision_at(scores[validation], validation_truth):.3f}  "
              f"test P@5 {precision_at(scores[test], test_truth):.3f}  mAP {mean_ap(scores[test], test_truth):.3f}  "
              f"oracle P@5 {precision_at(target[test] @ space.T, test_truth):.3f}")

    regression(base, "skip-gram vectors as trained")
    cooccurrence = multi_hot[train].T @ multi_hot[train]
    np.fill_diagonal(cooccurrence, 0)
    degree = cooccurrence.sum(1)
    for alpha in [1.0, 0.3, 0.1]:
        # Faruqui et al.: q_i <- (alpha qhat_i + sum_j beta_ij q_j) / (alpha + sum_j beta_ij), beta_ij = C_ij / deg_i.
        q = base.copy()
        beta = cooccurrence / np.maximum(degree[:, None], 1)
        for _ in range(10):
            q = (alpha * base + beta @ q) / (alpha + (degree > 0)[:, None])
        regression(q, f"retrofitted, alpha {alpha}")
    for removed in [0, 2, 20]:
        z = base - base.mean(0)
        if removed:
            _, _, vt = np.linalg.svd(z, full_matrices=False)
            z = z - (z @ vt[:removed].T) @ vt[:removed]
        regression(z, f"centred, top {removed} PCs removed")
    a = xc[train]
    head = xc @ np.linalg.solve(a.T @ a + np.eye(a.shape[1]), a.T @ multi_hot[train])
    print(f"{'(linear multi-label head, lambda 1)':34s} test P@5 {precision_at(head[test], test_truth):.3f}  "
          f"mAP {mean_ap(head[test], test_truth):.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
