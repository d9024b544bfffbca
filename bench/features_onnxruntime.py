#!/usr/bin/env python3
"""The peer of `taggan bench features`: onnxruntime running the same EfficientNet-Lite,
built as an ONNX graph from the same checkpoint (scripts/efficientnet_reference.py),
on batches of random inputs. Prints one JSON line; with --serve, times one batch per
line of stdin instead (bench/features_paired.py alternates those with taggan's)."""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import efficientnet_reference as R  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--weights", required=True)
parser.add_argument("--model", default="efficientnet-lite0")
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--serve", action="store_true",
                    help="time one batch per line read on stdin, printing its seconds, until end of input")
args = parser.parse_args()

import onnxruntime  # noqa: E402

session = R.session(R.build_onnx(R.load_weights(args.weights), args.model), args.threads)
size = R.MODELS[args.model][2]
x = np.random.default_rng(1).uniform(-1, 1, (args.batch, 3, size, size)).astype(np.float32)
session.run(["features"], {"input": x})  # warm-up
if args.serve:
    # The protocol of `taggan bench features --serve`: "ready", then one batch per line.
    print("ready", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        session.run(["features"], {"input": x})
        print(time.perf_counter() - start, flush=True)
    sys.exit(0)
times = []
for _ in range(args.repeats):
    start = time.perf_counter()
    session.run(["features"], {"input": x})
    times.append(time.perf_counter() - start)
print(json.dumps({
    "peer": f"onnxruntime {onnxruntime.__version__}", "model": args.model, "batch": args.batch,
    "threads": args.threads, "images_per_second_best": args.batch / min(times),
    "images_per_second_mean": args.batch * len(times) / sum(times),
}))
