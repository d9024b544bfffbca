#!/usr/bin/env python3
"""Inference batch by batch, taggan and onnxruntime alternating: both engines are loaded
and warmed up once (`taggan bench features --serve`, `features_onnxruntime.py --serve`),
then PAIRS pairs of batches run one engine at a time, the order swapped every pair, and
each pair's ratio (onnxruntime's seconds over taggan's) compares the two under the same
moment's host conditions. On a shared host whose speed swings by a third within minutes
(a Zen 3 VM, 2026-12) the ratio of two best-ofs taken seconds apart moved by 0.9-1.45x
from round to round; a pair is a quarter of a second apart.

    python3 bench/features_paired.py TAGGAN PYTHON WEIGHTS [PAIRS] [BATCH] [THREADS]

Before each batch the script waits SETTLE seconds (default 0.05): onnxruntime's worker
threads spin for a while after a run (its default), and without the wait they took a core
from the taggan batch that followed (Intel Xeon, 2026-12-08, two runs each: taggan's
batches after onnxruntime's ran at a median 224 and 207 images/s against 279 and 227 when
they came first; with the wait 256 / 261 and 277 / 278, no order left, and onnxruntime's
own median no lower). The wait is outside the timed batch.

Prints one JSON line (the median and quartiles of the pairs' ratios, each side's best and
median images/s, the wait), then the same in words."""
import json
import os
import statistics
import subprocess
import sys
import time

taggan, python, weights = sys.argv[1:4]
pairs = int(sys.argv[4]) if len(sys.argv) > 4 else 40
batch = int(sys.argv[5]) if len(sys.argv) > 5 else 32
threads = int(sys.argv[6]) if len(sys.argv) > 6 else 2
settle = float(os.environ.get("SETTLE", "0.05"))
here = os.path.dirname(os.path.abspath(__file__))


def start(command):
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, bufsize=1)
    line = process.stdout.readline().strip()
    if line != "ready":
        sys.exit(f"{command[0]}: expected 'ready', got {line!r} (exit {process.poll()})")
    return process


def one_batch(process):
    time.sleep(settle)  # let the other engine's threads stop spinning (see above)
    process.stdin.write("go\n")
    process.stdin.flush()
    line = process.stdout.readline()
    if not line:
        sys.exit(f"engine exited (status {process.wait()})")
    return float(line)


ours = start([taggan, "bench", "features", "--serve", "--batch", str(batch), "--threads", str(threads)])
peer = start([python, os.path.join(here, "features_onnxruntime.py"), "--serve", "--weights", weights,
              "--batch", str(batch), "--threads", str(threads)])
ratios, mine, theirs = [], [], []
for i in range(pairs):
    if i % 2 == 0:
        t, p = one_batch(ours), one_batch(peer)
    else:
        p, t = one_batch(peer), one_batch(ours)
    ratios.append(p / t)
    mine.append(batch / t)
    theirs.append(batch / p)
for process in (ours, peer):
    process.stdin.close()
    process.wait()
q = statistics.quantiles(ratios, n=4)
summary = {
    "pairs": pairs, "batch": batch, "threads": threads, "settle_seconds": settle,
    "ratio_median": statistics.median(ratios), "ratio_quartiles": [q[0], q[2]],
    "taggan_images_per_second_best": max(mine), "taggan_images_per_second_median": statistics.median(mine),
    "onnxruntime_images_per_second_best": max(theirs), "onnxruntime_images_per_second_median": statistics.median(theirs),
}
print(json.dumps(summary))
s = summary
print(f"batch by batch, {pairs} pairs alternating: ratio median {s['ratio_median']:.2f}x "
      f"(quartiles {q[0]:.2f}-{q[2]:.2f}x); taggan best {s['taggan_images_per_second_best']:.1f}, "
      f"median {s['taggan_images_per_second_median']:.1f} images/s; "
      f"onnxruntime best {s['onnxruntime_images_per_second_best']:.1f}, median {s['onnxruntime_images_per_second_median']:.1f}; "
      f"ratio of bests {s['taggan_images_per_second_best'] / s['onnxruntime_images_per_second_best']:.2f}x")
