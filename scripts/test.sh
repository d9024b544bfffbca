#!/usr/bin/env bash
# The README's second command (and CI's): install what is needed, run the tests.
# Long runs stay behind flags (see README); the default run fits in ~20 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh libimage-exiftool-perl chromium
bash corpora/fetch-all.sh --lite2   # the Features tests need both networks' weights
swift build --build-tests
swift test --skip-build "$@"
