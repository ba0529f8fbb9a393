#!/usr/bin/env bash
# Decoding settings against BLEU and speed on a held-out split of a trained run: greedy search and beam search
# with each beam size and length-penalty exponent alpha of a grid (GNMT penalty, Wu et al. 2016), one
# `nmt eval --bleu` each. Used to choose the `decode` defaults on the validation split; run it once on test
# with the chosen settings for the README.
#
#   scripts/decode_grid.sh RUN [SPLIT]          SPLIT: valid (default) or test
#
# Environment knobs: NMT_GRID_BEAMS ["4 8"], NMT_GRID_ALPHAS ["0 0.6 1.0"], NMT_GRID_PENALTY [gnmt],
# NMT_BUILD_DIR [build]. Prints one markdown row per setting: beam, penalty, alpha, BLEU, sentences/s (a wall
# time: compare rows of one run only), and writes every eval report to RUN/decode_grid_SPLIT.jsonl.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run="${1:?usage: scripts/decode_grid.sh RUN [valid|test]}"
split="${2:-valid}"
nmt="${NMT_BUILD_DIR:-$root/build}/nmt"
beams="${NMT_GRID_BEAMS:-4 8}"
alphas="${NMT_GRID_ALPHAS:-0 0.6 1.0}"
penalty="${NMT_GRID_PENALTY:-gnmt}"
[ -x "$nmt" ] || { echo "[grid] $nmt is missing; run scripts/build.sh" >&2; exit 1; }
out="$run/decode_grid_$split.jsonl"
: >"$out"

row() {  # beam penalty alpha
  local start end report
  start=$(date +%s.%N)
  report=$("$nmt" eval --bleu --checkpoint "$run" --split "$split" --json --beam-size "$1" --length-penalty "$2" \
    --alpha "$3" 2>/dev/null)
  end=$(date +%s.%N)
  echo "$report" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))' >>"$out"
  echo "$report" | python3 -c '
import json, sys
r = json.load(sys.stdin)
b, p, a, start, end = sys.argv[1:6]
bleu, rate = r["bleu"], r["sentences"] / (float(end) - float(start))
print(f"| {b} | {p} | {a} | {bleu:.2f} | {rate:.0f} |")' \
    "$1" "$2" "$3" "$start" "$end"
}

echo "| beam | length penalty | alpha | $split BLEU | sentences/s |"
echo "|---|---|---|---|---|"
row 1 none 0
for b in $beams; do
  for a in $alphas; do row "$b" "$penalty" "$a"; done
done
