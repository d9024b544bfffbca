#!/usr/bin/env bash
# The live-Slurm test (issue 13): starts a 3-node Slurm on this host (cluster.sh,
# installing slurm-wlm and munge with apt when missing), runs taggan's per-image
# pipeline through submit.sh as 3-shard job arrays on a few hundred OpenClipart images
# (ingest, features, annotate by k-NN, each followed by its merge job), takes one node
# down (its slurmd and job processes killed by PID) while a features task runs on it,
# lets Slurm requeue that task, and checks that the merged workspace equals one
# unsharded run's: the same catalog (every table but timestamps), bit-identical
# embeddings for every image, and the same annotations (catalog and JSON Lines, byte for byte).
#
#   bash scripts/slurm/live-test.sh [--taggan BIN] [--keep DIR]
#
# Needs root (munged runs as the munge user, the daemons as root), the OpenClipart cache
# (corpora/fetch-openclipart.sh; TAGGAN_CORPORA points at it) and the EfficientNet-Lite0
# weights. BIN defaults to .build/release/taggan (built here when missing). Every daemon
# is stopped by the PID it was started with, on any exit. Exit status 0: passed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$repo/scripts/slurm
taggan= keep=
while [ $# -gt 0 ]; do
    case $1 in
    --taggan) taggan=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "live-test.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
started=$(date +%s)
say() { echo "live-slurm [$(( $(date +%s) - started )) s]: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (munged and slurmd as in issue 13)"
# Slurm and munge (cluster.sh), and the sqlite3 shell the catalogs are compared with:
# one apt-get update and install when any is missing.
bash "$repo/scripts/install-deps.sh" slurm-wlm munge sqlite3
corpora=${TAGGAN_CORPORA:-$repo/corpora/cache}
[ -d "$corpora/openclipart/png/animals" ] || fail "no OpenClipart under $corpora (run bash corpora/fetch-openclipart.sh)"
[ -f "$corpora/models/efficientnet-lite0.pth" ] || fail "no EfficientNet-Lite0 weights under $corpora/models (corpora/fetch-all.sh)"
export TAGGAN_CORPORA=$corpora
if [ -z "$taggan" ]; then
    taggan=$repo/.build/release/taggan
    if [ ! -x "$taggan" ]; then
        say "building the release binary"
        (cd "$repo" && nice -n 10 swift build -c release --product taggan >&2)
    fi
fi
taggan=$(cd "$(dirname "$taggan")" && pwd)/$(basename "$taggan")
[ -x "$taggan" ] || fail "no taggan binary at $taggan"

dir=${keep:-$(mktemp -d /tmp/taggan-live-slurm.XXXXXX)}
mkdir -p "$dir"
# shellcheck source=cluster.sh
source "$here/cluster.sh"
cleanup() {
    local status=$?
    cluster_stop
    if [ -z "$keep" ] && [ $status -eq 0 ]; then rm -rf "$dir"; else say "left $dir for inspection"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The data: OpenClipart's animals (PNG renders + SVG metadata, aliases included).
data=$dir/data/openclipart
mkdir -p "$data/png" "$data/svg"
cp -a "$corpora/openclipart/png/animals" "$data/png/"
cp -a "$corpora/openclipart/svg/animals" "$data/svg/"
say "data: $(find "$data/png" -name '*.png' | wc -l) PNG paths"

# The reference: one unsharded run, outside Slurm.
say "reference: ingest + features, unsharded"
"$taggan" ingest "$data" --workspace "$dir/single" >"$dir/single.log" 2>&1 || { cat "$dir/single.log" >&2; fail "unsharded ingest"; }
"$taggan" features --workspace "$dir/single" >>"$dir/single.log" 2>&1 || { cat "$dir/single.log" >&2; fail "unsharded features"; }
"$taggan" annotate "$data/png" --workspace "$dir/single" --method knn --jsonl "$dir/single.tags.jsonl" >>"$dir/single.log" 2>&1 ||
    { cat "$dir/single.log" >&2; fail "unsharded annotate"; }

say "starting munged, slurmctld and 3 slurmd's"
cluster_start "$dir/cluster" 3 || fail "the cluster did not start (logs in $dir/cluster/logs)"

sharded=$dir/sharded
jobs=$("$here/submit.sh" --workspace "$sharded" --shards 3 --taggan "$taggan" --logs "$dir/logs" --annotate "$data/png" "$data")
echo "$jobs" | sed 's/^/  /' >&2
job() { echo "$jobs" | awk -v stage="$1" '$1 == stage { print $2 }'; }
all_jobs=$(echo "$jobs" | awk '{ print $2 }' | paste -sd, -)

# Lose a node while a features task runs on it: once the task's log shows it embedding
# (its network loaded, its first batch done), so the task dies mid-run.
features=$(job features)
victim=
for _ in $(seq 1200); do
    while read -r task node; do
        if grep -q 'images/s' "$dir/logs/taggan-features-$task.log" 2>/dev/null; then victim=$node victim_task=$task; break; fi
    done < <(squeue -h -j "$features" -t RUNNING -o '%i %N' 2>/dev/null || true)
    [ -n "$victim" ] && break
    squeue -h -j "$all_jobs" 2>/dev/null | grep -q . || break
    sleep 0.25
done
[ -n "$victim" ] || fail "no features task was seen running (see $dir/logs)"
say "taking node $victim down while task $victim_task runs on it"
cluster_kill_node "$victim"

# Wait for every stage (the requeued task included).
for _ in $(seq 1200); do
    squeue -h -j "$all_jobs" 2>/dev/null | grep -q . || break
    sleep 0.5
done
squeue -h -j "$all_jobs" 2>/dev/null | grep -q . && fail "jobs still queued after 10 minutes: $(squeue -j "$all_jobs")"
states=$(for id in ${all_jobs//,/ }; do scontrol show job "$id"; done | grep -oE 'JobState=[A-Z_]+' | sort | uniq -c)
echo "$states" | sed 's/^/  /' >&2
if echo "$states" | grep -v 'JobState=COMPLETED' | grep -q .; then
    tail -n 20 "$dir"/logs/*.log >&2 || true
    fail "not every job completed"
fi
restarts=$(( $(scontrol show job "$features" | grep -oE 'Restarts=[0-9]+' | cut -d= -f2 | paste -sd+ -) ))
[ "$restarts" -ge 1 ] || fail "no features task was requeued (the lost node's task should have been)"
say "every job completed; features tasks requeued $restarts time(s)"

# The merged workspace against the reference.
canonical() {   # every catalog table, without the times a run records
    sqlite3 -batch "$1/catalog.sqlite" <<'SQL'
.mode list
SELECT 'meta', key, value FROM meta WHERE key NOT LIKE 'shard.%' ORDER BY key;
SELECT 'source', name, path FROM sources ORDER BY name;
SELECT 'image', id, hash, format, width, height, split FROM images ORDER BY id;
SELECT 'file', key, path, image_id, size, mtime, metadata_mtime, IFNULL(title, '') FROM files ORDER BY key;
SELECT 'file_tag', ft.key, t.name, ft.raw FROM file_tags ft JOIN tags t ON t.id = ft.tag_id ORDER BY 2, 3;
SELECT 'concept', key, concept, strict FROM concepts ORDER BY key, concept;
SELECT 'stage', image_id, stage, model FROM stages ORDER BY 2, 3, 4;
SQL
}
embedding_rows() {   # "image_id hex-of-the-row's-float32-bytes", sorted by id
    local matrix=$1/embeddings.npy mapping=$1/embeddings.tsv header columns
    header=$(od -An -tu2 -j8 -N2 "$matrix" | tr -d ' ')
    columns=$(head -c $((10 + header)) "$matrix" | grep -aoE "'shape': \([0-9]+, [0-9]+\)" | grep -oE '[0-9]+\)' | tr -d ')')
    paste -d' ' <(tail -n +2 "$mapping" | cut -f2) \
        <(tail -c +$((10 + header + 1)) "$matrix" | od -An -v -tx1 -w$((columns * 4)) | tr -d ' ') | sort -n
}
canonical "$dir/single" >"$dir/single.catalog"
canonical "$sharded" >"$dir/sharded.catalog"
if ! diff -q "$dir/single.catalog" "$dir/sharded.catalog" >/dev/null; then
    diff "$dir/single.catalog" "$dir/sharded.catalog" | head -20 >&2
    fail "the merged catalog differs from the unsharded one"
fi
images=$(grep -c '^image|' "$dir/single.catalog")
embedding_rows "$dir/single" >"$dir/single.rows"
embedding_rows "$sharded" >"$dir/sharded.rows"
rows=$(wc -l <"$dir/single.rows")
[ "$rows" -gt 100 ] || fail "only $rows embedding rows in the unsharded run"
cmp -s "$dir/single.rows" "$dir/sharded.rows" || fail "merged embeddings differ from the unsharded run's ($(diff "$dir/single.rows" "$dir/sharded.rows" | grep -c '^<') rows)"
say "catalog equal ($images images); embeddings bit-identical ($rows rows)"

# Annotate: the reference's tags by k-NN transfer (nothing to train) into its catalog
# and one JSON Lines file; the sharded one is the annotate array + its merge (submit.sh
# --annotate). The merged file must equal the unsharded one byte for byte, and the two
# catalogs must hold the same annotations.
annotations() {   # the annotations table, without the times
    sqlite3 -batch "$1/catalog.sqlite" "SELECT image_id, model, tags FROM annotations ORDER BY image_id, model"
}
[ -s "$dir/single.tags.jsonl" ] || fail "the unsharded annotate wrote no tags"
[ -s "$sharded/annotate/tags.jsonl" ] || fail "the annotate merge wrote no $sharded/annotate/tags.jsonl"
cmp -s "$dir/single.tags.jsonl" "$sharded/annotate/tags.jsonl" ||
    fail "merged annotations differ from the unsharded run's ($(diff "$dir/single.tags.jsonl" "$sharded/annotate/tags.jsonl" | grep -c '^<') lines)"
annotations "$dir/single" >"$dir/single.annotations"
annotations "$sharded" >"$dir/sharded.annotations"
cmp -s "$dir/single.annotations" "$dir/sharded.annotations" || fail "the catalogs' annotations differ"
tagged=$(wc -l <"$dir/single.tags.jsonl")
[ "$tagged" -gt 100 ] || fail "only $tagged images tagged in the unsharded run"
say "annotations equal ($tagged images, the merged JSON Lines byte for byte)"
say "passed in $(( $(date +%s) - started )) s"
