#!/usr/bin/env bash
# SkipGram benchmark (issue 4): taggan vs gensim 4.4 Word2Vec(sg=1), same machine, same
# corpus (corpora/: english.txt), same settings, one run each; prints speed, quality and
# ratios. Quality of both is measured by `taggan vectors eval` (the same protocol):
# WordSim353 and SimLex-999 Spearman rho, questions-words 3CosAdd accuracy.
#
#   bash bench/skipgram.sh                     # dim 200, window 5, negative 5, ...
#   ALGORITHMS="batched classic" bash bench/skipgram.sh   # also time the classic loop
#   GENSIM_CORPUS_FILE=1 bash bench/skipgram.sh           # also gensim's corpus_file mode
#
# Environment: TAGGAN_CORPORA (default <repo>/corpora/cache), VENV (default
# .build/bench-venv; gensim==4.4.0 is pip-installed there), THREADS (2), EPOCHS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPORA="${TAGGAN_CORPORA:-$PWD/corpora/cache}"
CORPUS="$CORPORA/text/english.txt"
WORDSIM="$CORPORA/wordsim"
for f in "$CORPUS" "$WORDSIM/questions-words.txt" "$WORDSIM/wordsim353.tsv" "$WORDSIM/simlex999.txt"; do
    [[ -f "$f" ]] || { echo "missing $f: run 'bash corpora/fetch-all.sh' or set TAGGAN_CORPORA" >&2; exit 1; }
done
VENV="${VENV:-$PWD/.build/bench-venv}"
THREADS="${THREADS:-2}"
EPOCHS="${EPOCHS:-5}"
ALGORITHMS="${ALGORITHMS:-batched}"
SETTINGS=(--dim 200 --window 5 --negative 5 --min-count 5 --sample 1e-3 --epochs "$EPOCHS" --threads "$THREADS")

if ! "$VENV/bin/python" -c 'import gensim, sys; sys.exit(gensim.__version__ != "4.4.0")' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q gensim==4.4.0
fi
swift build -c release >&2
TAGGAN=.build/release/taggan
OUT="$(mktemp -d /tmp/skipgram-bench.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT

evaluate() {  # VECTORS -> JSON
    "$TAGGAN" vectors eval "$1" --analogies "$WORDSIM/questions-words.txt" \
        --similarity "$WORDSIM/wordsim353.tsv" --similarity "$WORDSIM/simlex999.txt" --json
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
declare -A RESULT
for algorithm in $ALGORITHMS; do
    echo "taggan ($algorithm) training..." >&2
    "$TAGGAN" vectors train "$CORPUS" --out "$OUT/taggan-$algorithm.bin" "${SETTINGS[@]}" \
        --algorithm "$algorithm" --json > "$OUT/taggan-$algorithm.train.json"
    evaluate "$OUT/taggan-$algorithm.bin" > "$OUT/taggan-$algorithm.eval.json"
    RESULT[taggan-$algorithm]=1
done
# Interoperability: gensim must read taggan's word2vec file with the same words and values.
first="${ALGORITHMS%% *}"
"$TAGGAN" vectors nearest "$OUT/taggan-$first.bin" king -k 3 >/dev/null
"$VENV/bin/python" - "$OUT/taggan-$first.bin" <<'PY' >&2
import sys
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)
print(f"gensim reads taggan's file: {len(kv)} words x {kv.vector_size}; near 'king':",
      ", ".join(w for w, _ in kv.most_similar("king", topn=5)))
PY
GENSIM_RUNS=(LineSentence)
[[ "${GENSIM_CORPUS_FILE:-0}" == 1 ]] && GENSIM_RUNS+=(corpus_file)
for input in "${GENSIM_RUNS[@]}"; do
    echo "gensim ($input) training..." >&2
    extra=()
    [[ "$input" == corpus_file ]] && extra=(--corpus-file)
    "$VENV/bin/python" bench/skipgram_gensim.py "$CORPUS" "$OUT/gensim-$input.bin" "${SETTINGS[@]}" "${extra[@]}" \
        > "$OUT/gensim-$input.train.json"
    evaluate "$OUT/gensim-$input.bin" > "$OUT/gensim-$input.eval.json"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$OUT" "$ALGORITHMS" "${GENSIM_RUNS[*]}" <<'PY'
import json, sys
out, algorithms, gensim_runs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def load(name):
    train = json.load(open(f"{out}/{name}.train.json"))
    ev = json.load(open(f"{out}/{name}.eval.json"))
    sims = {s["file"].rsplit("/", 1)[-1]: s for s in ev["similarity"]}
    rate = train.get("raw_words_per_second") or round(train["corpus_tokens"] * train["epochs"] / train["seconds"])
    return dict(name=name, seconds=train["seconds"], rate=rate, vocabulary=train["vocabulary"],
                tokens=train["corpus_tokens"], ws=sims["wordsim353.tsv"]["spearman"],
                sl=sims["simlex999.txt"]["spearman"], an=ev["analogies"]["accuracy"],
                answered=ev["analogies"]["answered"])
rows = [load(f"taggan-{a}") for a in algorithms] + [load(f"gensim-{g}") for g in gensim_runs]
base = rows[len(algorithms)]
print(f"| run | train s | raw words/s | vocab | WS353 rho | SimLex rho | analogies (answered) | speed vs {base['name']} |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['name']} | {r['seconds']:.1f} | {r['rate']:,} | {r['vocabulary']:,} | {r['ws']:.3f} | {r['sl']:.3f} "
          f"| {r['an']:.3f} ({r['answered']}) | {r['rate'] / base['rate']:.2f}x |")
print(f"\ncorpus tokens: " + ", ".join(f"{r['name']} {r['tokens']:,}" for r in rows))
PY
