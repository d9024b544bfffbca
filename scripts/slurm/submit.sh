#!/usr/bin/env bash
# Submits taggan's per-image pipeline to Slurm as job arrays, one task per shard, each
# stage after the previous one's merge:
#
#   ingest array (N tasks, one shard workspace each) -> catalog merge
#     -> features array (N tasks, shard files in W) -> embeddings merge
#     [-> annotate array -> annotations merge, with --annotate FOLDER]
#
#   scripts/slurm/submit.sh --workspace W --shards N [--taggan BIN] [--logs DIR]
#                           [--annotate FOLDER] [--sbatch-args "..."] SOURCE...
#
# W must be on a file system every node sees (NFS, Lustre, ...); SOURCE folders too.
# Prints the job ids, one line per stage ("ingest 123", "ingest-merge 124", ...), and
# returns at once: follow with `squeue`, read the per-task logs in DIR (default W/logs).
# Nothing here waits or coordinates: the dependencies (afterok) and requeue are Slurm's;
# a stage whose array failed for good cancels the stages after it (--kill-on-invalid-dep).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
workspace= shards= taggan=${TAGGAN:-taggan} logs= annotate= extra=()
sources=()
while [ $# -gt 0 ]; do
    case $1 in
    --workspace) workspace=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --taggan) taggan=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --annotate) annotate=$2; shift 2 ;;
    --sbatch-args) read -r -a extra <<<"$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "submit.sh: unknown option $1" >&2; exit 2 ;;
    *) sources+=("$(cd "$1" && pwd)"); shift ;;
    esac
done
[ -n "$workspace" ] && [ -n "$shards" ] && [ ${#sources[@]} -gt 0 ] || {
    echo "usage: submit.sh --workspace W --shards N [--taggan BIN] [--logs DIR] [--annotate FOLDER] SOURCE..." >&2; exit 2; }
[ "$shards" -ge 1 ] 2>/dev/null || { echo "submit.sh: --shards must be a positive integer, got '$shards'" >&2; exit 2; }
mkdir -p "$workspace"
workspace=$(cd "$workspace" && pwd)
logs=${logs:-$workspace/logs}
mkdir -p "$logs" "$workspace/shards"
export TAGGAN=$taggan
last=$((shards - 1))
submit() { sbatch --parsable --export=ALL --kill-on-invalid-dep=yes "${extra[@]}" "$@" | cut -d';' -f1; }

ingest=$(submit --array="0-$last" --job-name=taggan-ingest --output="$logs/%x-%A_%a.log" \
    "$here/array.sbatch" ingest "${sources[@]}" --workspace "$workspace/shards/ingest.{shard}")
echo "ingest $ingest"
ingest_merge=$(submit --dependency="afterok:$ingest" --job-name=taggan-ingest-merge --output="$logs/%x-%j.log" \
    "$here/merge.sbatch" ingest "$workspace" "$shards")
echo "ingest-merge $ingest_merge"
features=$(submit --dependency="afterok:$ingest_merge" --array="0-$last" --job-name=taggan-features \
    --output="$logs/%x-%A_%a.log" "$here/array.sbatch" features --workspace "$workspace")
echo "features $features"
features_merge=$(submit --dependency="afterok:$features" --job-name=taggan-features-merge --output="$logs/%x-%j.log" \
    "$here/merge.sbatch" features "$workspace")
echo "features-merge $features_merge"
if [ -n "$annotate" ]; then
    # k-NN tag transfer from W's catalog and embeddings (nothing to train), one JSON Lines
    # file per shard (W/annotate/tags.shard-I-of-N.jsonl + manifest), then their merge.
    annotate=$(cd "$annotate" && pwd)
    annotate_job=$(submit --dependency="afterok:$features_merge" --array="0-$last" --job-name=taggan-annotate \
        --output="$logs/%x-%A_%a.log" "$here/array.sbatch" annotate "$annotate" --workspace "$workspace" \
        --method knn --jsonl "$workspace/annotate/tags.jsonl")
    echo "annotate $annotate_job"
    annotate_merge=$(submit --dependency="afterok:$annotate_job" --job-name=taggan-annotate-merge \
        --output="$logs/%x-%j.log" "$here/merge.sbatch" annotate "$workspace" "$shards")
    echo "annotate-merge $annotate_merge"
fi
