#!/usr/bin/env bash
# TagGAN training speed against PyTorch (CPU) running the same networks and step, in the
# same run, on the same machine: steps/s at batch 100, feature size 1280, word size 200,
# for the paper's step (SGD, no mismatched pairs, no ranking term: what the PyTorch peer
# runs), and taggan's default step beside it (its time against the paper's step's).
#
#   bash bench/taggan.sh            # THREADS=2 STEPS=150 ROUNDS=2 by default
#   ISA=avx2 bash bench/taggan.sh   # both sides held to AVX2 + FMA on an AVX-512 machine
#
# ISA=avx2 measures the AVX2-only CPUs' row (Zen 1, Haswell) on a machine that has
# AVX-512: taggan gets OPENBLAS_CORETYPE=Haswell and TAGGAN_KERNELS=avx2 (its own element
# kernels are built for haswell at most), PyTorch ATEN_CPU_CAPABILITY=avx2,
# MKL_ENABLE_INSTRUCTIONS=AVX2 (its products are MKL's) and ONEDNN_MAX_CPU_ISA=AVX2; the
# PyTorch rows print the capability it ran with. The clock and caches stay this CPU's,
# so it is the code paths' ratio, not the other CPU's speed.
#
# Needs python3 with numpy (the synthetic workspace) and a venv with torch==2.13.0 (made
# on first use at $TAGGAN_BENCH_VENV, default ~/.cache/taggan-bench/venv). Rounds
# alternate taggan and PyTorch so that other load on the machine hits both; the best
# round of each is reported, with the share of CPU time the hypervisor stole while each
# row ran (bench/steal.sh). Prints JSON lines, then a summary with the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
STEPS=${STEPS:-150}
ROUNDS=${ROUNDS:-2}
VENV=${TAGGAN_BENCH_VENV:-$HOME/.cache/taggan-bench/venv}
case "${ISA:-}" in
    "") ;;
    avx2) export OPENBLAS_CORETYPE=Haswell TAGGAN_KERNELS=avx2 ATEN_CPU_CAPABILITY=avx2 \
              MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ;;
    *) echo "ISA=$ISA: only avx2 (or unset) is known" >&2; exit 2 ;;
esac
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

swift build -c release --product taggan >/dev/null
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q torch==2.13.0
fi
python3 bench/taggan_fixture.py "$WORK/ws" --images 5400 --features 1280 --dim 200

results="$WORK/results.jsonl"
. bench/steal.sh
for round in $(seq "$ROUNDS"); do
    # The paper's step (SGD, D on [real; fake], G's adversarial loss alone), then the
    # step with train's defaults (Adam, mismatched pairs, the ranking term).
    for step in paper default; do
        rm -rf "$WORK/ws/models"
        options=()
        [ "$step" = paper ] && options=(--optimizer sgd --mismatch 0 --ranking-weight 0)
        mark=$(steal_mark)
        row=$(.build/release/taggan train --workspace "$WORK/ws" --vectors "$WORK/ws/vectors.bin" --training-set "$WORK/ws/training-set.tsv" \
            "${options[@]}" --steps "$STEPS" --checkpoint-every 0 --threads "$THREADS" --json 2>/dev/null \
            | STEP=$step python3 -c 'import json,os,sys; r=json.load(sys.stdin); print(json.dumps({"peer":"taggan","step":os.environ["STEP"],"threads":r["threads"],"steps":r["steps"],"steps_per_second":r["steps_per_second"]}))')
        echo "$row" | steal_json "$mark" round="$round" | tee -a "$results"
    done
    for variant in "" --shared-image-branch; do
        mark=$(steal_mark)
        row=$("$VENV/bin/python" bench/taggan_torch.py --threads "$THREADS" --steps "$STEPS" $variant)
        echo "$row" | steal_json "$mark" round="$round" | tee -a "$results"
    done
done

python3 - "$results" "$THREADS" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def best(pred):
    return max((r for r in rows if pred(r)), key=lambda r: r["steps_per_second"])
ours = best(lambda r: r["peer"] == "taggan" and r["step"] == "paper")
default = best(lambda r: r["peer"] == "taggan" and r["step"] == "default")
torch_plain = best(lambda r: r["peer"] == "pytorch" and not r["shared_image_branch"])
torch_shared = best(lambda r: r["peer"] == "pytorch" and r["shared_image_branch"])
o, d, t, ts = (r["steps_per_second"] for r in (ours, default, torch_plain, torch_shared))
print(f"threads {sys.argv[2]}: taggan {o:.2f} steps/s, PyTorch {t:.2f} "
      f"(shared image branch {ts:.2f}); ratio {o / t:.2f}x "
      f"({o / ts:.2f}x against the shared-branch PyTorch); "
      f"taggan's default step (Adam, mismatched pairs, ranking term) {d:.2f} steps/s, "
      f"{o / d:.2f}x the paper's step's time")
# The two taggan runs of a round are adjacent, so their ratio sees the same load; the
# best-of ratio above pairs rounds that may not have.
pairs = {}
for r in rows:
    if r["peer"] == "taggan":
        pairs.setdefault(r["round"], {})[r["step"]] = r["steps_per_second"]
per_round = sorted(p["paper"] / p["default"] for p in pairs.values() if len(p) == 2)
if per_round:
    print("default step against the paper step, round by round: "
          + " / ".join(f"{x:.2f}x" for x in per_round)
          + f" (median {(per_round[(len(per_round) - 1) // 2] + per_round[len(per_round) // 2]) / 2:.2f}x)")
print(f"best rounds: taggan round {ours['round']} (steal {ours['steal_percent']}%), "
      f"PyTorch round {torch_plain['round']} (steal {torch_plain['steal_percent']}%, "
      f"CPU capability {torch_plain.get('cpu_capability', '?')}); "
      f"OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', 'chosen by taggan')}")
worst = max(r["steal_percent"] for r in (ours, torch_plain))
if worst >= 5:
    print(f"note: {worst}% of the CPU time was stolen by the hypervisor in a best round "
          "(bench/steal.sh): the host was busy, so treat the ratio as indicative and run again")
PY
