#!/usr/bin/env bash
# The README's second command (and CI's): install what is needed, run the tests.
# Long runs stay behind flags (see README); the default run takes ~3 min on 2 cores once
# built (debug builds are optimised: Package.swift, `optimisedInDebug`).
#   TAGGAN_LIVE_SLURM=1: also the live-Slurm test (scripts/slurm/live-test.sh: a 3-node
#   Slurm started here, sharded ingest + features with a node lost, merged = one run);
#   it needs root and a release build (~80 s on 2 cores once built), so it is not in
#   the default run; .ci/run turns it on.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libimage-exiftool-perl chromium
bash corpora/fetch-all.sh --lite2   # the Features tests need both networks' weights
swift build --build-tests
swift test --skip-build "$@"
if [ "${TAGGAN_LIVE_SLURM:-0}" = 1 ]; then
    swift build -c release --product taggan
    bash scripts/slurm/live-test.sh --taggan .build/release/taggan
fi
