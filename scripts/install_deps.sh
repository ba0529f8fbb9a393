#!/usr/bin/env bash
# Installs nmt's build and runtime dependencies from Debian bookworm (idempotent; quick when already present).
set -euo pipefail
pkgs=(libtorch-dev libcli11-dev libspdlog-dev nlohmann-json3-dev catch2 libutf8proc-dev
      libopenblas0-pthread libcairo2-dev libsentencepiece-dev sentencepiece libgloo-dev cmake g++ make unzip curl ca-certificates jq)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] all packages present"
  exit 0
fi
echo "[deps] installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
