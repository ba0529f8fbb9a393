#!/usr/bin/env bash
# The main job on the real data: install, build, get the data, train configs/default.json (8 minutes of
# training; NMT_MINUTES overrides), translate d2l's four sentences and score the test split with BLEU, both
# with the weights the run ended with (RUN/latest, as scripts/quality.sh scores them: a time-limited run stops
# after its last validation, so best/ may be older). NMT_RUN_DIR sets the run directory (default runs/default).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install_deps.sh
scripts/build.sh
scripts/get_data.sh
run="${NMT_RUN_DIR:-runs/default}"
minutes=()
[ -n "${NMT_MINUTES:-}" ] && minutes=(--max-minutes "$NMT_MINUTES")
build/nmt train --config configs/default.json --output "$run" --overwrite "${minutes[@]}"
printf 'go .\ni lost .\nhe'"'"'s calm .\ni'"'"'m home .\n' | build/nmt translate --checkpoint "$run/latest"
build/nmt eval --bleu --checkpoint "$run/latest" --split test
