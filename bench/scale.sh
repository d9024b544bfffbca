#!/usr/bin/env bash
# The scale simulation of issue 13 (BENCHMARKS.md, "Scale"): a synthetic workspace of N
# images (random 1280-d features around 1,000 centres, Zipf tags over 2,000 names, 4-12
# per image) through the catalog, features' write path (parts + join), IC-GAN neighbour search, k-NN
# and TagProp scoring. One process per stage, so each peak memory is that stage's own.
#
#   bash bench/scale.sh [N] [STAGE...]     (default 100000, every stage)
#
# Prints one JSON line per stage (wall and CPU seconds per step, peak RSS in MB); the
# machine may be shared, so compare CPU seconds, and wall time only on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}; shift || true
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(catalog features-write knn neighbours tagprop)
swift build -c release --product ScaleBench >&2
workspace=$(mktemp -d /tmp/taggan-scale.XXXXXX)
trap 'rm -rf "$workspace"' EXIT
for stage in "${stages[@]}"; do
    .build/release/ScaleBench "$stage" --images "$n" --workspace "$workspace/w"
done
