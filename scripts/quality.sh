#!/usr/bin/env bash
# Reproduces one row of README's results table: installs, builds, gets the data, trains configs/transformer.json
# for MINUTES minutes of training (argument, default 60) into runs/quality_MINUTES (NMT_RUN_DIR overrides),
# scores the test split with the final weights (RUN/latest; the EMA ones when the config keeps them) and the
# config's decode settings (beam search, length penalty) against the single reference and, with --multi-ref,
# against all translations of each distinct source, and prints the row.
# NMT_QUALITY_CONFIG picks another config; the time budget is training time (validation excluded). The run
# validates every 500 updates unless the config sets train.valid_every_steps (training is the same either way).
set -euo pipefail
minutes="${1:-60}"
case "$minutes" in
  ''|*[!0-9.]*|.|*.*.*) echo "[quality] MINUTES = '$minutes' must be a positive number" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install_deps.sh >&2
scripts/build.sh >&2
scripts/get_data.sh >&2
config="${NMT_QUALITY_CONFIG:-configs/transformer.json}"
run="${NMT_RUN_DIR:-runs/quality_$minutes}"
# Validating every 500 updates (when the config does not say) leaves training unchanged and gives a short run,
# which may stop before its first epoch ends, the metrics and timing lines the row is computed from.
# The run keeps its config as RUN/config.json; the edited copy given to `nmt train` is a temporary file.
edited="$(mktemp --suffix=.json)"
trap 'rm -f "$edited"' EXIT
jq '.train.valid_every_steps = (.train.valid_every_steps // 0 | if . > 0 then . else 500 end)' "$config" >"$edited"
build/nmt train --config "$edited" --output "$run" --overwrite --max-minutes "$minutes"
if [ ! -s "$run/metrics.jsonl" ]; then
  echo "[quality] $run stopped before its first validation (train.valid_every_steps), so the row's epochs and" \
    "tokens/s are unknown: give it more minutes" >&2
  exit 1
fi
single="$(build/nmt eval --bleu --json --checkpoint "$run/latest" --split test)"
multi="$(build/nmt eval --bleu --json --checkpoint "$run/latest" --split test --multi-ref)"
# Epochs trained (a time-limited run stops inside an epoch): the final step over the steps per epoch, which any
# metrics line gives (step / (epoch - 1 + epoch_fraction)); training tokens/s over the validated part of the run.
epochs="$(jq -s --argjson step "$(jq .step "$run/latest/state.json")" \
  '.[-1] as $m | $step * ($m.epoch - 1 + $m.epoch_fraction) / $m.step' "$run/metrics.jsonl")"
rate="$(jq -s 'map(.tokens_per_second * .train_seconds) as $t | map(.train_seconds) as $s | ($t | add) / ($s | add)' \
  "$run/timing.jsonl")"
echo "| minutes | epochs | train tok/s | test BLEU | multi-ref BLEU | chrF2 | chrF2++ | weights |"
echo "|---|---|---|---|---|---|---|---|"
printf '| %s | %.1f | %.0f | %.2f | %.2f | %.2f | %.2f | %s |\n' "$minutes" "$epochs" "$rate" \
  "$(jq .bleu <<<"$single")" "$(jq .bleu <<<"$multi")" "$(jq .chrf2 <<<"$single")" "$(jq .chrf2pp <<<"$single")" \
  "$(jq -r .weights <<<"$single")"
