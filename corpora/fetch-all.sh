#!/usr/bin/env bash
# Run every corpora/fetch-*.sh (each is idempotent: a complete dataset is
# only reported).  Options: --lite2 (passed to fetch-efficientnet.sh).
# Exits non-zero if any script failed, after trying all of them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lite2=()
for arg in "$@"; do
    case "$arg" in
        --lite2) lite2=(--lite2) ;;
        *) echo "fetch-all.sh: unknown argument: $arg (usage: fetch-all.sh [--lite2])" >&2; exit 2 ;;
    esac
done
failed=()
run() {
    echo "=== $*"
    if ! "$here/$@"; then failed+=("$1"); fi
}
run fetch-openclipart.sh
run fetch-text.sh
run fetch-gensim-testdata.sh
run fetch-efficientnet.sh ${lite2[@]+"${lite2[@]}"}
run fetch-glove.sh
run fetch-fashion-mnist.sh
run fetch-digits.sh
if [ ${#failed[@]} -gt 0 ]; then
    echo "fetch-all.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fetch-all.sh: all datasets are in ${TAGGAN_CORPORA:-$(dirname "$here")/corpora/cache}"
