#!/usr/bin/env bash
# EfficientNet-Lite0 images/s: taggan against onnxruntime running the same model (an ONNX
# graph built from the same checkpoint), same machine, same run, batch 32, 2 threads;
# then taggan on a whole folder (decode + preprocess + network).
#
#   bash bench/features.sh [FOLDER]     (default FOLDER: $TAGGAN_CORPORA/bench-photos)
#
# Needs the weights (corpora/fetch-efficientnet.sh) and a venv with numpy, onnx and
# onnxruntime (created at $BENCH_VENV, default /tmp/taggan-bench-venv, if missing).
# The two engines alternate for ROUNDS rounds so a noisy neighbour hits both.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA="${TAGGAN_CORPORA:-$PWD/corpora/cache}"
WEIGHTS="$CORPORA/models/efficientnet-lite0.pth"
FOLDER="${1:-$CORPORA/bench-photos}"
VENV="${BENCH_VENV:-/tmp/taggan-bench-venv}"
ROUNDS="${ROUNDS:-3}"
THREADS=2
BATCH=32
[ -f "$WEIGHTS" ] || { echo "weights missing: run corpora/fetch-efficientnet.sh" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy onnx onnxruntime
fi
swift build -c release >/dev/null
export TAGGAN_CORPORA="$CORPORA" TAGGAN_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    "$VENV/bin/python" bench/features_onnxruntime.py --weights "$WEIGHTS" --batch $BATCH --threads $THREADS --repeats 5
    .build/release/taggan bench features --batch $BATCH --threads $THREADS --repeats 5 --json 2>/dev/null
done | tee /tmp/taggan-bench-features.jsonl
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("/tmp/taggan-bench-features.jsonl")]
ort = max(r["images_per_second_best"] for r in rows if "peer" in r)
ours = max(r["inference_images_per_second_best"] for r in rows if "peer" not in r)
print(f"inference, batch 32, 2 threads (best over rounds): taggan {ours:.1f} images/s, "
      f"onnxruntime {ort:.1f} images/s, ratio {ours / ort:.2f}x")
PY
if [ -d "$FOLDER" ]; then
    echo "whole folder $FOLDER:"
    .build/release/taggan bench features "$FOLDER" --batch $BATCH --threads $THREADS --repeats 3
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
