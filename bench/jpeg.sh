#!/usr/bin/env bash
# JPEG decode-to-224 throughput: taggan (DCT scaling + antialiased resize) against
# djpeg -scale (libjpeg-turbo-progs) on the same 200 photo-sized JPEGs, in one run.
# Usage: bash bench/jpeg.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${TAGGAN_CORPORA:-corpora/cache}
bash scripts/install-deps.sh libjpeg-turbo-progs
swift build -c release --product taggan >/dev/null
photos=$cache/bench-photos
if [ ! -f "$photos/.done" ]; then
  venv=$cache/venv-bench
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q scikit-image pillow
  rm -rf "$photos.tmp"
  "$venv/bin/python" bench/make_photo_jpegs.py "$photos.tmp" 200
  rm -rf "$photos"; mv "$photos.tmp" "$photos"; touch "$photos/.done"
fi
files=("$photos"/*.jpg)
# djpeg at the scale taggan picks for 2400x1600 -> 224 (1/4: shorter side 400, the
# smallest scale that stays >= 224), writing PPM to /dev/null; best of 3 passes.
djpeg_rate() {
  local scale=$1 best=999999
  for pass in 1 2 3; do
    local start end
    start=$(date +%s.%N)
    for f in "${files[@]}"; do djpeg $scale -outfile /dev/null "$f"; done
    end=$(date +%s.%N)
    best=$(python3 -c "print(min($best, $end - $start))")
  done
  python3 -c "print(round(${#files[@]} / $best, 1))"
}
ours=$(.build/release/taggan bench decode "$photos" --size 224 --threads 1 --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_second"], 1))')
ours2=$(.build/release/taggan bench decode "$photos" --size 224 --threads 2 --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_second"], 1))')
ours_full=$(.build/release/taggan bench decode "$photos" --size 0 --threads 1 --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_second"], 1))')
djpeg_scaled=$(djpeg_rate "-scale 1/4")
djpeg_full=$(djpeg_rate "")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "${#files[@]} JPEGs of 2400x1600 (q90, 4:2:0), images/s:"
echo "  taggan decode-to-224 (1/4 DCT scale + resize), 1 thread: $ours"
echo "  taggan decode-to-224, 2 threads:                          $ours2"
echo "  djpeg -scale 1/4 (no resize), one process per file:       $djpeg_scaled"
echo "  taggan full-size decode, 1 thread:                        $ours_full"
echo "  djpeg full size:                                          $djpeg_full"
python3 -c "print(f'ratios: decode-to-224 vs djpeg -scale 1/4: {$ours / $djpeg_scaled:.2f}x (1 thread), {$ours2 / $djpeg_scaled:.2f}x (2 threads); full size vs djpeg: {$ours_full / $djpeg_full:.2f}x')"
