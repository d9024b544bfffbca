#!/usr/bin/env bash
# Fuzzes Ingest's parsers of untrusted bytes (JPEG/PNG decoding, XMP/RDF XML, embedded
# XMP and EXIF) with libFuzzer and AddressSanitizer.
# Usage: bash scripts/fuzz.sh [SECONDS]   (default 300); findings land in fuzz-findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
bash scripts/install-deps.sh
TAGGAN_FUZZ=1 swift build --build-path .build-fuzz -c release --product IngestFuzz \
  -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
# Seed corpus: every fixture image under each of the three parsers (first byte picks it),
# plus an OpenClipart SVG when the corpora cache has one.
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
for file in Tests/IngestTests/Fixtures/images/*; do
  for parser in 0 1 2; do
    { printf "\\x0$parser"; cat "$file"; } > "$seeds/$(basename "$file").$parser"
  done
done
svg=${TAGGAN_CORPORA:-corpora/cache}/openclipart/svg/food/fruit/apple_mateya_01.svg
[ -f "$svg" ] && { printf '\x01'; cat "$svg"; } > "$seeds/apple.svg.1"
mkdir -p fuzz-findings
exec .build-fuzz/release/IngestFuzz "$seeds" -artifact_prefix=fuzz-findings/ \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
