#!/usr/bin/env bash
# Build $CACHE/text/: english.txt (all sources) and gcide.txt, wordnet.txt,
# kjv.txt, fortunes.txt, one paragraph / definition / gloss / verse /
# fortune per line, from Debian's dict-gcide, wordnet-base, bible-kjv-text
# and fortunes.  The parsing is in build_text_corpus.py.  See README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$CACHE/text"
begin_work text "$OUT/.done" "$OUT/english.txt"

PKGS=(dict-gcide wordnet-base bible-kjv-text fortunes)
apt_fetch "$WORK/debs" "${PKGS[@]}"
for pkg in "${PKGS[@]}"; do
    say "dpkg -x $pkg"
    dpkg -x "$(deb_path "$WORK/debs" "$pkg")" "$WORK/root" || die "dpkg -x $pkg failed"
done
rm -rf "$WORK/debs"

STAGE="$WORK/text"
mkdir -p "$STAGE/licences"
for pkg in "${PKGS[@]}"; do
    cp "$WORK/root/usr/share/doc/$pkg/copyright" "$STAGE/licences/$pkg.copyright" \
        || die "no copyright file for $pkg"
done

say "parsing (build_text_corpus.py)"
python3 "$CORPORA_DIR/build_text_corpus.py" "$WORK/root" "$STAGE" >"$WORK/counts.txt" \
    || die "build_text_corpus.py failed"
rm -rf "$WORK/root"

# counts.txt lines: NAME units=N lines=N words=N
declare -A U L W
while read -r name units lines words; do
    U[$name]=${units#units=}; L[$name]=${lines#lines=}; W[$name]=${words#words=}
done <"$WORK/counts.txt"
for name in gcide wordnet kjv fortunes; do
    [ -n "${W[$name]:-}" ] || die "build_text_corpus.py reported nothing for $name"
done

# expected: measured on Debian bookworm's packages; loose +-35% ranges
check_near gcide.words    "${W[gcide]}"    3900000 35
check_near wordnet.words  "${W[wordnet]}"  1460000 35
check_near kjv.words      "${W[kjv]}"       790000 35
check_near fortunes.words "${W[fortunes]}"  424000 35
check_near gcide.lines    "${L[gcide]}"     252000 35
check_near gcide.entries  "${U[gcide]}"     126000 10
check_near wordnet.glosses "${L[wordnet]}"  117659 5
check_eq   kjv.verses     "${L[kjv]}"        31102
check_near fortunes.lines "${L[fortunes]}"   14373 35

total_words=$(( W[gcide] + W[wordnet] + W[kjv] + W[fortunes] ))
total_lines=$(( L[gcide] + L[wordnet] + L[kjv] + L[fortunes] ))
check_near english.words "$total_words" 6600000 35
check_eq english.lines "$(wc -l <"$STAGE/english.txt")" "$total_lines"
check_eq english.blank_lines "$(grep -c '^[[:space:]]*$' "$STAGE/english.txt" || true)" 0
python3 - "$STAGE/english.txt" <<'PY' || die "english.txt is not valid UTF-8"
import sys
with open(sys.argv[1], encoding="utf-8", errors="strict") as f:
    f.read()
PY
record english.utf8 ok
record english.bytes "$(stat -c %s "$STAGE/english.txt")"

install_dir "$STAGE" "$OUT"
