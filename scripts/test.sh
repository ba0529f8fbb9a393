#!/usr/bin/env bash
# Installs the dependencies, builds nmt and its tests, and runs ctest. This is what CI runs.
#   scripts/test.sh          Release build in build/
#   scripts/test.sh --asan   AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install_deps.sh"
if [ "${1:-}" = "--asan" ]; then
  export NMT_BUILD_DIR="$root/build-asan" NMT_BUILD_TYPE=RelWithDebInfo
  export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  "$root/scripts/build.sh" -DNMT_SANITIZE=ON
else
  "$root/scripts/build.sh"
fi
cd "${NMT_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j2 --timeout 900
