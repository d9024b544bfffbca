#!/usr/bin/env bash
# sgemm throughput: taggan's BLAS choice against the kernel Debian's OpenBLAS falls back
# to on a CPU it does not recognise (Prescott), and against numpy's own OpenBLAS build
# (the peer a Python user would have), in one run on the same machine.
# Usage: bash bench/blas.sh [SIZE]   (default 1024; 2 threads unless TAGGAN_THREADS says)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1024}
threads=${TAGGAN_THREADS:-$(nproc)}
bash scripts/install-deps.sh
swift build -c release --product taggan >/dev/null
python3 -c 'import numpy' 2>/dev/null || pip install -q numpy

gflops() { python3 -c 'import json,sys; print(json.load(sys.stdin)["sgemm"]["gflops"])'; }
kernel() { python3 -c 'import json,sys; d=json.load(sys.stdin)["blas"]; print(d["kernel"], "chosen by", d["kernel_chosen_by"])'; }

export OPENBLAS_NUM_THREADS=$threads
ours_json=$(env -u OPENBLAS_CORETYPE .build/release/taggan doctor --json --size "$size")
fallback_json=$(OPENBLAS_CORETYPE=Prescott .build/release/taggan doctor --json --size "$size")
ours=$(gflops <<<"$ours_json")
fallback=$(gflops <<<"$fallback_json")
numpy=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 - "$size" <<'PY'
import sys, time, numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(1)
a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
a @ b
best = min(
    (lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(5))
print(round(2 * n**3 / best / 1e9, 1))
PY
)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $threads threads"
echo "sgemm ${size}^3, best of 5, GFLOP/s:"
echo "  taggan (kernel $(kernel <<<"$ours_json")): $ours"
echo "  OpenBLAS fallback kernel (Prescott):        $fallback"
echo "  numpy $(python3 -c 'import numpy; print(numpy.__version__)') (its own OpenBLAS):             $numpy"
python3 - "$ours" "$fallback" "$numpy" <<'PY'
import sys
ours, fallback, numpy = map(float, sys.argv[1:])
print(f"ratios: taggan/fallback {ours / fallback:.1f}x, taggan/numpy {ours / numpy:.2f}x")
PY
