#!/usr/bin/env python3
"""The Python stack a user would write instead of `taggan features` / `taggan annotate`,
the peer of bench/annotate_job.sh (issue 14 item 2). Whole script, model loading included:

- every .jpg/.jpeg/.png under FOLDER, in path order;
- Pillow: JPEG draft mode (the DCT scale that keeps the shorter side >= the crop), RGB,
  antialiased (bilinear, Pillow's reducing) resize of the shorter side to 224, centre crop;
- decoding in a 2-thread pool, overlapped with inference (the pool decodes batch i+1
  while onnxruntime runs batch i);
- onnxruntime, the same EfficientNet-Lite0 graph taggan runs (an .onnx file built once from
  the same checkpoint by scripts/efficientnet_reference.py), 2 intra-op threads, batches of 32;
- features: the N x 1280 float32 matrix saved as .npy and the path list beside it;
- annotate: k-NN tag transfer as `taggan annotate --method knn` (k 5, cosine similarity to
  the workspace's training images, each neighbour's tags voted with its similarity), the
  10 best tags of each image written as JSON Lines.

    annotate_job_python.py features FOLDER --onnx M.onnx --out F.npy
    annotate_job_python.py annotate FOLDER --onnx M.onnx --workspace W --out F.jsonl

Prints one JSON line: images, seconds (whole script from its first line), images/s.
"""
import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
from PIL import Image  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["features", "annotate"])
parser.add_argument("folder")
parser.add_argument("--onnx", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--workspace")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--k", type=int, default=5)
parser.add_argument("--top", type=int, default=10)
args = parser.parse_args()
SIZE = 224


def files(folder):
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            if name.lower().endswith((".jpg", ".jpeg", ".png")):
                found.append(os.path.join(root, name))
    return sorted(found)


def crop(path):
    """uint8 224x224x3, or None when the file does not decode."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (SIZE, SIZE))  # JPEG: the smallest DCT scale >= 224 on both sides
            image = image.convert("RGB")
            w, h = image.size
            scale = SIZE / min(w, h)
            size = (max(SIZE, round(w * scale)), max(SIZE, round(h * scale)))
            image = image.resize(size, Image.BILINEAR, reducing_gap=None)
            left, top = (size[0] - SIZE) // 2, (size[1] - SIZE) // 2
            return np.asarray(image.crop((left, top, left + SIZE, top + SIZE)), dtype=np.uint8)
    except Exception:  # noqa: BLE001 - a broken file is skipped, as taggan skips it
        return None


options = onnxruntime.SessionOptions()
options.intra_op_num_threads = args.threads
options.inter_op_num_threads = 1
session = onnxruntime.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])

if args.mode == "annotate":
    # The workspace's training images: their embedding rows and tags.
    db = sqlite3.connect(os.path.join(args.workspace, "catalog.sqlite"))
    tags_of = {}
    for image_id, tag in db.execute(
            "SELECT DISTINCT f.image_id, t.name FROM files f JOIN file_tags ft ON ft.key = f.key "
            "JOIN tags t ON t.id = ft.tag_id JOIN images i ON i.id = f.image_id WHERE i.split = 'train'"):
        tags_of.setdefault(image_id, set()).add(tag)
    matrix = np.load(os.path.join(args.workspace, "embeddings.npy"))
    ids = [int(line.split("\t")[1]) for line in open(os.path.join(args.workspace, "embeddings.tsv")).read().splitlines()[1:]]
    rows = [r for r, i in enumerate(ids) if i in tags_of]
    train = matrix[rows]
    train /= np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)
    train_tags = [sorted(tags_of[ids[r]]) for r in rows]

paths = files(args.folder)
done_paths, outputs = [], []
with ThreadPoolExecutor(max_workers=args.threads) as pool:
    batches = [paths[i:i + args.batch] for i in range(0, len(paths), args.batch)]
    pending = pool.map(crop, batches[0]) if batches else None
    for b, batch in enumerate(batches):
        crops = list(pending)
        if b + 1 < len(batches):
            pending = pool.map(crop, batches[b + 1])  # decoded while this batch runs
        good = [(p, c) for p, c in zip(batch, crops) if c is not None]
        if not good:
            continue
        x = (np.stack([c for _, c in good]).astype(np.float32) - 127.0) / 128.0
        features = session.run(["features"], {"input": x.transpose(0, 3, 1, 2)})[0]
        done_paths += [p for p, _ in good]
        outputs.append(features)

features = np.concatenate(outputs) if outputs else np.zeros((0, 1280), np.float32)
if args.mode == "features":
    np.save(args.out, features.astype(np.float32))
    with open(args.out + ".paths", "w") as out:
        out.write("\n".join(done_paths) + "\n")
else:
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    similarities = unit @ train.T
    with open(args.out, "w") as out:
        for path, row in zip(done_paths, similarities):
            nearest = np.argpartition(-row, args.k)[:args.k]
            votes = {}
            for j in nearest:
                for tag in train_tags[j]:
                    votes[tag] = votes.get(tag, 0.0) + float(row[j])
            best = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:args.top]
            out.write(json.dumps({"path": os.path.relpath(path, args.folder), "tags": [t for t, _ in best],
                                  "confidences": [round(v, 4) for _, v in best]}) + "\n")

seconds = time.perf_counter() - START
print(json.dumps({"peer": f"Pillow {Image.__version__} + onnxruntime {onnxruntime.__version__}", "mode": args.mode,
                  "images": len(done_paths), "seconds": seconds, "images_per_second": len(done_paths) / seconds}))
