#!/usr/bin/env bash
# Puts the English-French corpus of d2l.ai section 10.5 (Tatoeba via manythings.org, d2l's fra-eng.zip)
# at data/fra-eng/fra.txt (relative to the repo root, whatever the current directory) and checks its
# SHA-256. Sources, first match wins:
#   1. $NMT_DATA_DIR/fra.txt            (if NMT_DATA_DIR is set; an error if the file is missing there)
#   2. an existing data/fra-eng/fra.txt (only verified)
#   3. ../shared/data/fra-eng/fra.txt   (a sibling checkout, relative to the repo root)
#   4. download http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip with curl and unzip it
# Local copies are copied (not symlinked), with _about.txt (licence) when present.
# Idempotent: quick when the file is already there. Exit status 1 on any failure or hash mismatch.
set -euo pipefail

readonly kExpectedSha256="0bb85dbaa1c896844649094d7eaf2e34bee34e84fe362b26ce7e8f2e12aae104"
readonly kUrl="http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest_dir="$repo_root/data/fra-eng"
dest="$dest_dir/fra.txt"
work_dir=""

cleanup() {
  rm -f "$dest.part" "$dest_dir/_about.txt.part"
  if [[ -n "$work_dir" ]]; then rm -rf "$work_dir"; fi
}
trap cleanup EXIT

die() {
  echo "get_data.sh: error: $*" >&2
  exit 1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# verify FILE WHAT: exits 1 with both hashes if FILE's SHA-256 is not the expected one.
verify() {
  local actual
  actual="$(sha256_of "$1")"
  if [[ "$actual" != "$kExpectedSha256" ]]; then
    echo "get_data.sh: error: SHA-256 mismatch for $2 ($1)" >&2
    echo "  expected: $kExpectedSha256" >&2
    echo "  actual:   $actual" >&2
    exit 1
  fi
}

# install_from DIR WHAT: copies DIR/fra.txt (verified) and DIR/_about.txt (if any) into place.
install_from() {
  local src_dir="$1" what="$2"
  mkdir -p "$dest_dir"
  cp "$src_dir/fra.txt" "$dest.part"
  chmod 0644 "$dest.part"  # the source may be read-only
  verify "$dest.part" "$what"
  mv -f "$dest.part" "$dest"
  if [[ -f "$src_dir/_about.txt" ]]; then
    cp "$src_dir/_about.txt" "$dest_dir/_about.txt.part"
    chmod 0644 "$dest_dir/_about.txt.part"
    mv -f "$dest_dir/_about.txt.part" "$dest_dir/_about.txt"
  fi
  echo "get_data.sh: installed $dest (from $what)"
}

if [[ -n "${NMT_DATA_DIR:-}" ]]; then
  [[ -f "$NMT_DATA_DIR/fra.txt" ]] || die "NMT_DATA_DIR is set but $NMT_DATA_DIR/fra.txt does not exist"
  if [[ -f "$dest" ]] && cmp -s "$NMT_DATA_DIR/fra.txt" "$dest"; then
    verify "$dest" "existing file"
    echo "get_data.sh: $dest already present (same as \$NMT_DATA_DIR/fra.txt), SHA-256 OK"
    exit 0
  fi
  install_from "$NMT_DATA_DIR" "\$NMT_DATA_DIR=$NMT_DATA_DIR"
  exit 0
fi

if [[ -f "$dest" ]]; then
  verify "$dest" "existing file (delete it and rerun to fetch it again)"
  echo "get_data.sh: $dest already present, SHA-256 OK"
  exit 0
fi

sibling="$repo_root/../shared/data/fra-eng"
if [[ -f "$sibling/fra.txt" ]]; then
  install_from "$(cd "$sibling" && pwd)" "sibling checkout $(cd "$sibling" && pwd)"
  exit 0
fi

command -v curl >/dev/null 2>&1 || die "curl is needed to download $kUrl (or set NMT_DATA_DIR to a folder holding fra.txt)"
command -v unzip >/dev/null 2>&1 || die "unzip is needed to extract fra-eng.zip"
work_dir="$(mktemp -d)"
echo "get_data.sh: downloading $kUrl"
curl -fL --retry 3 --connect-timeout 20 -o "$work_dir/fra-eng.zip" "$kUrl" || die "download of $kUrl failed"
unzip -q -o "$work_dir/fra-eng.zip" -d "$work_dir" || die "cannot unzip $work_dir/fra-eng.zip"
found="$(find "$work_dir" -name fra.txt -type f | head -n 1)"
[[ -n "$found" ]] || die "fra-eng.zip from $kUrl holds no fra.txt"
install_from "$(dirname "$found")" "$kUrl"
