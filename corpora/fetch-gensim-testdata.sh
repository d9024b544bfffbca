#!/usr/bin/env bash
# Word-vector test sets from the gensim 4.4.0 wheel (gensim/test/test_data/)
# into $CACHE/wordsim/: questions-words.txt, wordsim353.tsv, simlex999.txt.
# See README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$CACHE/wordsim"
FILES=(questions-words.txt wordsim353.tsv simlex999.txt)
begin_work wordsim "$OUT/.done" "${FILES[@]/#/$OUT/}"

# Any gensim 4.4.0 wheel holds the same test data; pin one (CPython 3.11,
# manylinux x86_64) so that the file and its hash do not depend on this
# machine's Python.
WHEEL_SHA256=91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8
pip_fetch "$WORK/pip" gensim==4.4.0 "$WHEEL_SHA256" \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
    --platform manylinux_2_28_x86_64 \
    || die "pip download gensim==4.4.0 failed"

STAGE="$WORK/wordsim"
mkdir -p "$STAGE"
for f in "${FILES[@]}"; do
    unzip_member "$PIP_FILE" "gensim/test/test_data/$f" "$STAGE/$f"
done
unzip_member "$PIP_FILE" gensim-4.4.0.dist-info/licenses/COPYING "$STAGE/COPYING.gensim" 2>/dev/null \
    || warn "no COPYING in the gensim wheel"
rm -rf "$WORK/pip"

# questions-words.txt: ": section" lines, then "a b c d" analogies
check_eq questions.sections "$(grep -c '^:' "$STAGE/questions-words.txt")" 14
check_eq questions.analogies "$(grep -v '^:' "$STAGE/questions-words.txt" | awk 'NF == 4' | wc -l)" 19544
check_eq questions.other_lines "$(grep -v '^:' "$STAGE/questions-words.txt" | awk 'NF != 4' | wc -l)" 0
# wordsim353.tsv / simlex999.txt: "#" comments, then word1 TAB word2 TAB score
pairs() { grep -v '^#' "$1" | awk -F'\t' 'NF == 3 && $3 ~ /^[0-9.]+$/' | wc -l; }
check_near wordsim353.pairs "$(pairs "$STAGE/wordsim353.tsv")" 353 3
check_eq simlex999.pairs "$(pairs "$STAGE/simlex999.txt")" 999
for f in "${FILES[@]}"; do record "$f.sha256" "$(sha256sum "$STAGE/$f" | cut -d' ' -f1)"; done

install_dir "$STAGE" "$OUT"
