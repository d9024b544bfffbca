#!/usr/bin/env bash
# The conv net's kernel variants against onnxruntime in one run: EfficientNet-Lite0,
# inference only, batch 32, 2 threads, best batch of 5 per run, rounds alternating
# onnxruntime and taggan with each kernel variant this CPU runs (TAGGAN_KERNELS), so an
# AVX-512 machine also measures the AVX2 build. Prints each round (with the load
# average) and the best of each column as a ratio against onnxruntime's best.
#
#   bash bench/features_variants.sh                 # ROUNDS=5, every supported variant
#   VARIANTS="avx512 avx2@512K" bash bench/features_variants.sh   # @SIZE: TAGGAN_L2=SIZE
#   BASELINE=/path/to/older/taggan bash bench/features_variants.sh # one more column
#
# Needs what bench/features.sh needs (weights, a venv with numpy, onnx, onnxruntime at
# $BENCH_VENV, made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA="${TAGGAN_CORPORA:-$PWD/corpora/cache}"
WEIGHTS="$CORPORA/models/efficientnet-lite0.pth"
VENV="${BENCH_VENV:-/tmp/taggan-bench-venv}"
ROUNDS="${ROUNDS:-5}"
[ -f "$WEIGHTS" ] || { echo "weights missing: run corpora/fetch-efficientnet.sh" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy onnx onnxruntime
fi
swift build -c release >/dev/null
export TAGGAN_CORPORA="$CORPORA" TAGGAN_THREADS=2 OMP_NUM_THREADS=2
TAGGAN=.build/release/taggan
if [ -z "${VARIANTS:-}" ]; then
    VARIANTS=$("$TAGGAN" doctor --json --size 64 | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["conv_kernels"]["supported"]))')
fi
"$TAGGAN" doctor --size 64 | grep -E '^(cpu|conv kernels|kernel variants|caches|conv blocking):'
. bench/steal.sh
best() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r.get("inference_images_per_second_best", r.get("images_per_second_best")), 1))'; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$ROUNDS"); do
    line="load $(cut -d' ' -f1 /proc/loadavg)"; mark=$(steal_mark)
    line="$line onnxruntime=$("$VENV/bin/python" bench/features_onnxruntime.py --weights "$WEIGHTS" --batch 32 --threads 2 --repeats 5 | best)"
    if [ -n "${BASELINE:-}" ]; then
        line="$line baseline=$("$BASELINE" bench features --batch 32 --threads 2 --repeats 5 --json 2>/dev/null | best)"
    fi
    for v in $VARIANTS; do
        kernels=${v%@*}; l2=""; [ "$kernels" != "$v" ] && l2=${v#*@}
        line="$line $v=$(TAGGAN_L2=$l2 TAGGAN_KERNELS=$kernels "$TAGGAN" bench features --batch 32 --threads 2 --repeats 5 --json 2>/dev/null | best)"
    done
    echo "round $round: $line -> load $(cut -d' ' -f1 /proc/loadavg), CPU time stolen $(steal_since "$mark")%" | tee -a "$results"
done
python3 - "$results" <<'PY'
import sys
best = {}
for line in open(sys.argv[1]):
    for field in line.split(":", 1)[1].split():
        if "=" in field:
            name, value = field.split("=")
            best[name] = max(best.get(name, 0), float(value))
peer = best.pop("onnxruntime")
print(f"best of rounds, images/s: onnxruntime {peer:.1f}; " +
      "; ".join(f"{name} {value:.1f} ({value / peer:.2f}x)" for name, value in best.items()))
PY
