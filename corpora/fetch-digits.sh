#!/usr/bin/env bash
# scikit-learn's bundled handwritten digits (UCI "Optical Recognition of Handwritten
# Digits", test part: 1,797 images, 8x8, values 0..16, 10 classes) from the PyPI
# scikit-learn wheel into $CACHE/digits/: digits.csv (decompressed from
# sklearn/datasets/data/digits.csv.gz: one image per line, 64 pixel values then the
# label) and digits.rst (sklearn's description).  Not MNIST: see README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$CACHE/digits"
begin_work digits "$OUT/.done" "$OUT/digits.csv"

# One pinned wheel whatever the local Python: the file is the same in every wheel.
pip_fetch "$WORK/pip" scikit-learn==1.7.2 \
    89877e19a80c7b11a2891a27c21c4894fb18e2c2e077815bcade10d34287b20d \
    --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 \
    --implementation cp --abi cp311 \
    || die "pip download scikit-learn==1.7.2 failed"

STAGE="$WORK/digits"
mkdir -p "$STAGE"
unzip_member "$PIP_FILE" sklearn/datasets/data/digits.csv.gz "$WORK/digits.csv.gz"
unzip_member "$PIP_FILE" sklearn/datasets/descr/digits.rst "$STAGE/digits.rst"
unzip_member "$PIP_FILE" scikit_learn-1.7.2.dist-info/licenses/COPYING "$STAGE/COPYING.scikit-learn"
gzip -dc "$WORK/digits.csv.gz" >"$STAGE/digits.csv" || die "cannot decompress digits.csv.gz"
rm -rf "$WORK/pip" "$WORK/digits.csv.gz"

# 1,797 rows of 65 comma-separated integers, pixels 0..16, labels 0..9
python3 - "$STAGE/digits.csv" >"$WORK/csv.txt" <<'PY' || die "digits.csv check failed"
import sys
from collections import Counter
rows = [line.split(",") for line in open(sys.argv[1]) if line.strip()]
print("rows=%d" % len(rows))
print("columns=%s" % "/".join(sorted({str(len(r)) for r in rows})))
pixels = [int(float(v)) for r in rows for v in r[:64]]
print("pixel_range=%d..%d" % (min(pixels), max(pixels)))
c = Counter(int(float(r[64])) for r in rows)
print("classes=%d" % len(c))
print("per_class=%s" % "/".join(str(c[k]) for k in range(10)))
PY
declare -A C
while IFS='=' read -r k v; do C[$k]=$v; done <"$WORK/csv.txt"
check_eq rows "${C[rows]}" 1797
check_eq columns "${C[columns]}" 65
check_eq pixel_range "${C[pixel_range]}" 0..16
check_eq classes "${C[classes]}" 10
record per_class "${C[per_class]}"
record digits.csv.sha256 "$(sha256sum "$STAGE/digits.csv" | cut -d' ' -f1)"

install_dir "$STAGE" "$OUT"
