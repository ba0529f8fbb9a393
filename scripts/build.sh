#!/usr/bin/env bash
# Configures and builds nmt (Release) into build/ (or $NMT_BUILD_DIR). Extra arguments go to cmake's configure step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${NMT_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${NMT_BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$build" -j"${NMT_JOBS:-2}"
