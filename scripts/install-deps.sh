#!/usr/bin/env bash
# Installs the Debian packages taggan builds and runs with, if any are missing.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

packages=(
  pkg-config
  libjpeg62-turbo-dev   # JPEG decoding (Ingest)
  libpng-dev            # PNG decoding (Ingest)
  libxml2-dev           # XML/RDF/XMP metadata (Ingest)
  zlib1g-dev            # compressed XMP in PNG iTXt chunks (Ingest)
  libsqlite3-dev        # the workspace catalog
  libssl-dev            # SHA-256 of image files, the catalog's content ids (OpenSSL's libcrypto)
  libopenblas0-pthread  # BLAS, opened at run time (TagganCore)
)
# Extra packages a caller needs (e.g. the tests' tools), passed as arguments.
packages+=("$@")

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "taggan: installing ${missing[*]}" >&2
run_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run_root apt-get update -qq
run_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
