#!/usr/bin/env bash
# Fashion-MNIST from Debian's dataset-fashion-mnist into $CACHE/fashion-mnist/:
# the four idx files, decompressed (train 60,000 + t10k 10,000, 28x28 uint8).
# See README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$CACHE/fashion-mnist"
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
begin_work fashion-mnist "$OUT/.done" "${FILES[@]/#/$OUT/}"

apt_fetch "$WORK/debs" dataset-fashion-mnist
dpkg -x "$(deb_path "$WORK/debs" dataset-fashion-mnist)" "$WORK/root" || die "dpkg -x dataset-fashion-mnist failed"
rm -rf "$WORK/debs"

STAGE="$WORK/fashion-mnist"
mkdir -p "$STAGE"
src="$WORK/root/usr/share/datasets/fashion-mnist"
for f in "${FILES[@]}"; do
    [ -f "$src/$f.gz" ] || die "unexpected package layout: no $src/$f.gz"
    gzip -dc "$src/$f.gz" >"$STAGE/$f" || die "cannot decompress $f.gz"
done
cp "$WORK/root/usr/share/doc/dataset-fashion-mnist/copyright" "$STAGE/COPYRIGHT.debian" \
    || warn "no Debian copyright file found"
rm -rf "$WORK/root"

# idx headers (big-endian): magic 0x00000803 images / 0x00000801 labels,
# then the dimensions; sizes must match; labels 0..9, balanced classes
python3 - "$STAGE" >"$WORK/idx.txt" <<'PY' || die "idx check failed"
import os, struct, sys
from collections import Counter
d = sys.argv[1]
for split in ("train", "t10k"):
    img = os.path.join(d, split + "-images-idx3-ubyte")
    lab = os.path.join(d, split + "-labels-idx1-ubyte")
    with open(img, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
    print("%s.images.magic=0x%08x" % (split, magic))
    print("%s.images.count=%d" % (split, n))
    print("%s.images.shape=%dx%d" % (split, rows, cols))
    print("%s.images.size_ok=%s" % (split, os.path.getsize(img) == 16 + n * rows * cols))
    with open(lab, "rb") as f:
        magic, m = struct.unpack(">II", f.read(8))
        labels = f.read()
    print("%s.labels.magic=0x%08x" % (split, magic))
    print("%s.labels.count=%d" % (split, m))
    print("%s.labels.size_ok=%s" % (split, len(labels) == m))
    c = Counter(labels)
    print("%s.labels.classes=%d" % (split, len(c)))
    print("%s.labels.per_class=%s" % (split, "/".join(str(c[k]) for k in range(10))))
PY
declare -A I
while IFS='=' read -r k v; do I[$k]=$v; done <"$WORK/idx.txt"
for split in train t10k; do
    [ "$split" = train ] && n=60000 || n=10000
    check_eq "$split.images.magic" "${I[$split.images.magic]}" 0x00000803
    check_eq "$split.images.count" "${I[$split.images.count]}" "$n"
    check_eq "$split.images.shape" "${I[$split.images.shape]}" 28x28
    check_eq "$split.images.size_ok" "${I[$split.images.size_ok]}" True
    check_eq "$split.labels.magic" "${I[$split.labels.magic]}" 0x00000801
    check_eq "$split.labels.count" "${I[$split.labels.count]}" "$n"
    check_eq "$split.labels.size_ok" "${I[$split.labels.size_ok]}" True
    check_eq "$split.labels.classes" "${I[$split.labels.classes]}" 10
    record "$split.labels.per_class" "${I[$split.labels.per_class]}"
done
for f in "${FILES[@]}"; do record "$f.sha256" "$(sha256sum "$STAGE/$f" | cut -d' ' -f1)"; done

install_dir "$STAGE" "$OUT"
