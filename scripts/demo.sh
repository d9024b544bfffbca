#!/usr/bin/env bash
# The README's first command: install what is needed, build in release, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash corpora/fetch-all.sh
swift build -c release --product taggan
exec .build/release/taggan demo "$@"
