#!/usr/bin/env bash
# Checks every target's `import` lines against the README's module picture: which of
# our modules each target may import. Exit 1 naming each file and import that breaks it.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"   # the repository, or the tree given
ours="taggan ArgumentParsing Workspace Ingest SkipGram Features TagGAN Eval TagganCore _ConvKernels _ConvKernelsAVX2 _ConvKernelsAVX512 _BLASLoader _JPEGShim CJPEG CPNG CLibXML2 CSQLite CZlib CLibCrypto"
allowed() {
    case "$1" in
        taggan) echo "ArgumentParsing Workspace Ingest SkipGram Features TagGAN Eval TagganCore" ;;
        ArgumentParsing) echo "" ;;
        Workspace) echo "Ingest SkipGram Features TagGAN Eval TagganCore" ;;
        Ingest) echo "TagganCore _JPEGShim CJPEG CPNG CLibXML2 CSQLite CZlib CLibCrypto" ;;
        Features) echo "TagganCore _ConvKernels _ConvKernelsAVX2 _ConvKernelsAVX512" ;;
        TagGAN) echo "TagganCore" ;;
        SkipGram|Eval) echo "TagganCore" ;;
        _ConvKernels|_ConvKernelsAVX2|_ConvKernelsAVX512) echo "" ;;
        TagganCore) echo "_BLASLoader _ConvKernels _ConvKernelsAVX2 _ConvKernelsAVX512" ;;
        IngestFuzz) echo "Ingest TagganCore" ;;
        *) echo "" ;;
    esac
}
status=0
for folder in Sources/*/; do
    target=$(basename "$folder")
    for file in $(find "$folder" -name '*.swift'); do
        while read -r module; do
            case " $ours " in *" $module "*) ;; *) continue ;; esac
            case " $(allowed "$target") " in
                *" $module "*) ;;
                *) echo "$file: imports $module, which $target may not import (README, Modules)"; status=1 ;;
            esac
        done < <(sed -n 's/^\(@testable \)\{0,1\}import \([A-Za-z_]*\).*/\2/p' "$file")
    done
done
exit $status
