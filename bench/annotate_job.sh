#!/usr/bin/env bash
# The user's whole job against the Python stack they would otherwise write (issue 14
# item 2), in one run, whole command against whole script, model loading included:
#
#   taggan features --workspace WF          vs  annotate_job_python.py features FOLDER
#   taggan annotate FOLDER --workspace W --method knn --jsonl F --force
#                                           vs  annotate_job_python.py annotate FOLDER
#
# on two folders of JPEGs: 200 photo-sized (2400x1600) and 300 MIR Flickr-sized
# (500x333), made once by bench/make_photo_jpegs.py into the corpora cache. The Python
# stack: Pillow with JPEG draft mode + antialiased resize + centre crop, decoding in a
# 2-thread pool overlapped with onnxruntime (2 threads, batches of 32) running the same
# EfficientNet-Lite0 graph (an .onnx file built once from the same checkpoint, not
# timed); annotate adds k-NN tag transfer (k 5, as --method knn) from W's training
# images and writes JSON Lines. W is OpenClipart ingested and embedded (not timed); WF
# is the folder ingested (not timed), its embeddings removed before each features run.
# The two sides alternate for ROUNDS rounds (default 2) and the best of each counts.
#
#   bash bench/annotate_job.sh          (BENCH_VENV, ROUNDS, TAGGAN_CORPORA)
#
# Prints one line per comparison and the ratios (taggan images/s over the stack's).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA="${TAGGAN_CORPORA:-$PWD/corpora/cache}"
WEIGHTS="$CORPORA/models/efficientnet-lite0.pth"
VENV="${BENCH_VENV:-/tmp/taggan-bench-venv}"
ROUNDS="${ROUNDS:-2}"
[ -f "$WEIGHTS" ] || { echo "weights missing: run corpora/fetch-efficientnet.sh" >&2; exit 1; }
[ -d "$CORPORA/openclipart/png" ] || { echo "OpenClipart missing: run corpora/fetch-openclipart.sh" >&2; exit 1; }
if ! "$VENV/bin/python" -c "import numpy, onnx, onnxruntime, PIL, skimage" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy onnx onnxruntime pillow scikit-image
fi
swift build -c release --product taggan >/dev/null
taggan=$PWD/.build/release/taggan
export TAGGAN_CORPORA="$CORPORA" TAGGAN_THREADS=2 OMP_NUM_THREADS=2

make_folder() {   # name count width height
    local out=$CORPORA/$1
    if [ ! -f "$out/.done" ]; then
        rm -rf "$out.tmp"
        "$VENV/bin/python" bench/make_photo_jpegs.py "$out.tmp" "$2" "$3" "$4" >&2
        rm -rf "$out"; mv "$out.tmp" "$out"; touch "$out/.done"
    fi
    echo "$out"
}
photos=$(make_folder bench-photos 200 2400 1600)
flickr=$(make_folder bench-photos-500x333 300 500 333)
onnx=$CORPORA/models/efficientnet-lite0.onnx
if [ ! -f "$onnx" ]; then
    "$VENV/bin/python" - "$WEIGHTS" "$onnx.tmp" <<'PY'
import sys
sys.path.insert(0, "scripts")
import onnx
import efficientnet_reference as R
onnx.save(R.build_onnx(R.load_weights(sys.argv[1]), "efficientnet-lite0"), sys.argv[2])
PY
    mv "$onnx.tmp" "$onnx"
fi

work=$(mktemp -d /tmp/taggan-annotate-job.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$taggan" doctor 2>/dev/null | grep -E '^(cpu|conv kernels):' || true
echo "setting up W (OpenClipart, ingest + features) and the folders' workspaces (not timed)"
"$taggan" ingest "$CORPORA/openclipart" --workspace "$work/W" >/dev/null 2>&1
"$taggan" features --workspace "$work/W" >/dev/null 2>&1
for folder in "$photos" "$flickr"; do "$taggan" ingest "$folder" --workspace "$work/$(basename "$folder")" >/dev/null 2>&1; done

seconds() { local start=$1; python3 -c "import time; print(time.time() - $start)"; }
. bench/steal.sh
results=$work/results.tsv
: >"$results"
for round in $(seq "$ROUNDS"); do
    for folder in "$photos" "$flickr"; do
        name=$(basename "$folder") n=$(find "$folder" -name '*.jpg' | wc -l)
        wf=$work/$name
        rm -rf "$wf"/embeddings*
        mark=$(steal_mark); start=$(python3 -c 'import time; print(time.time())')
        "$taggan" features --workspace "$wf" >/dev/null 2>&1
        echo -e "$name\tfeatures\ttaggan\t$n\t$(seconds "$start")\t$(steal_since "$mark")" >>"$results"
        mark=$(steal_mark)
        row=$("$VENV/bin/python" bench/annotate_job_python.py features "$folder" --onnx "$onnx" --out "$work/py.npy" |
            python3 -c "import json,sys; r=json.load(sys.stdin); print(f'$name\tfeatures\tpython\t{r[\"images\"]}\t{r[\"seconds\"]}')")
        echo -e "$row\t$(steal_since "$mark")" >>"$results"
        mark=$(steal_mark); start=$(python3 -c 'import time; print(time.time())')
        "$taggan" annotate "$folder" --workspace "$work/W" --method knn --jsonl "$work/taggan.jsonl" --force >/dev/null 2>&1
        echo -e "$name\tannotate\ttaggan\t$n\t$(seconds "$start")\t$(steal_since "$mark")" >>"$results"
        mark=$(steal_mark)
        row=$("$VENV/bin/python" bench/annotate_job_python.py annotate "$folder" --onnx "$onnx" --workspace "$work/W" --out "$work/py.jsonl" |
            python3 -c "import json,sys; r=json.load(sys.stdin); print(f'$name\tannotate\tpython\t{r[\"images\"]}\t{r[\"seconds\"]}')")
        echo -e "$row\t$(steal_since "$mark")" >>"$results"
        [ "$(wc -l <"$work/taggan.jsonl")" -eq "$(wc -l <"$work/py.jsonl")" ] || echo "warning: the two wrote different numbers of lines" >&2
    done
done
python3 - "$results" <<'PY'
import statistics
import sys
# Each round times the two back to back, in the order written to the results: its ratio
# compares them under the same host conditions, so the rounds' ratios and their median
# are printed too (a host whose speed swings within minutes can make the best rounds of
# the two sides come from different conditions).
best, times = {}, {}
for line in open(sys.argv[1]):
    folder, job, who, n, s, steal = line.rstrip("\n").split("\t")
    key = (folder, job, who)
    best[key] = min(best.get(key, (1e9, 0, 0)), (float(s), int(n), int(steal)))
    times.setdefault(key, []).append(float(s))
for folder in sorted({k[0] for k in best}):
    for job in ("features", "annotate"):
        (ts, tn, tst), (ps, pn, pst) = best[(folder, job, "taggan")], best[(folder, job, "python")]
        median = statistics.median(p / t for t, p in zip(times[(folder, job, "taggan")], times[(folder, job, "python")]))
        print(f"{folder:22} {job:8}  taggan {tn / ts:6.1f} images/s ({ts:5.1f} s, steal {tst}%)   "
              f"Pillow+onnxruntime {pn / ps:6.1f} images/s ({ps:5.1f} s, steal {pst}%)   ratio {(tn / ts) / (pn / ps):.2f}x"
              f"   (rounds' median {median:.2f}x)")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
