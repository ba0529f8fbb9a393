#!/usr/bin/env bash
# Translates d2l's four example sentences with a trained run and prints each with its BLEU (k=2), as the book does:
# greedy search (d2l's predict_seq2seq); extra arguments go to `nmt translate` (e.g. --beam-size 4).
#   scripts/d2l_examples.sh RUN_DIR [TRANSLATE FLAGS...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nmt="${NMT_BIN:-$root/build/nmt}"
run="${1:?usage: scripts/d2l_examples.sh RUN_DIR [TRANSLATE FLAGS...]}"
shift
engs=("go ." "i lost ." "he's calm ." "i'm home .")
fras=("va !" "j'ai perdu ." "il est calme ." "je suis chez moi .")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--beam-size 1)
"$nmt" translate --checkpoint "$run" "${flags[@]}" "${engs[@]}" 2>/dev/null >"$tmp/hyp"
for i in 0 1 2 3; do
  sed -n "$((i + 1))p" "$tmp/hyp" >"$tmp/h$i"
  printf '%s\n' "${fras[$i]}" >"$tmp/r$i"
  bleu=$("$nmt" eval --bleu --json --tokenized --k 2 --hypotheses "$tmp/h$i" --references "$tmp/r$i" 2>/dev/null |
         sed -n 's/.*"d2l_bleu": \([0-9.e-]*\).*/\1/p')
  printf '%s => %s, bleu %.3f\n' "${engs[$i]}" "$(cat "$tmp/h$i")" "$bleu"
done
