#!/usr/bin/env bash
# The CUDA check of issue #19, one script for a lent GPU machine (it also runs, slowly, on a CPU; then "cuda" is
# replaced by what `auto` resolves to). Steps, each printed with its seconds:
#   1. build: against the LibTorch of python3's PyTorch when it has CUDA (pip; CMAKE_PREFIX_PATH from
#      torch.utils.cmake_prefix_path, plus NMT_DEPS_PREFIX for the headers and libraries the image lacks, e.g. .deb
#      files unpacked with `dpkg -x`) into build-gpu/, else scripts/build.sh's build/;
#   2. tests: the [device] tests (model steps in bf16/fp16/fp32, a bf16 run resumed) with NMT_TEST_DEVICE=DEVICE,
#      then the whole suite with ctest (NMT_GPU_CTEST=0 skips it);
#   3. train configs/transformer.json for NMT_GPU_MINUTES [5] minutes in fp32 and in bf16 on DEVICE, translate,
#      evaluate the test split (BLEU, chrF2);
#   4. kill -9 a run after its first checkpoint and --resume it: state.json must record DEVICE and the step grows;
#   5. print one table: precision, epochs, train tokens/s, valid BLEU, test BLEU, chrF2.
# The data must be at data/fra-eng/fra.txt (scripts/get_data.sh, or copied beside the working tree).
# Environment: NMT_GPU_DEVICE [cuda when LibTorch sees one, else cpu]; NMT_GPU_MINUTES [5]; NMT_GPU_CTEST [1];
# NMT_GPU_OUT [runs/gpu_check] run directories; NMT_DEPS_PREFIX (see 1.); NMT_JOBS [nproc];
# NMT_GPU_VALID_EVERY [500] steps between validations; NMT_GPU_NUM_EXAMPLES: train on the first N pairs only
# (a CPU dry run: NMT_GPU_MINUTES=1 NMT_GPU_CTEST=0 NMT_GPU_NUM_EXAMPLES=20000 NMT_GPU_VALID_EVERY=40).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
minutes="${NMT_GPU_MINUTES:-5}"
out="${NMT_GPU_OUT:-runs/gpu_check}"
jobs="${NMT_JOBS:-$(nproc)}"
t0=$SECONDS
step() { echo "[gpu_check] $(( SECONDS - t0 )) s: $*" >&2; }
[ -f data/fra-eng/fra.txt ] || { echo "[gpu_check] data/fra-eng/fra.txt is missing (scripts/get_data.sh)" >&2; exit 1; }

# 1. Build.
torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path if torch.cuda.is_available() else "")' \
  2>/dev/null || true)"
if [ -n "$torch_prefix" ]; then
  build=build-gpu
  step "building against pip's LibTorch ($torch_prefix) into $build"
  prefix="$torch_prefix${NMT_DEPS_PREFIX:+;$NMT_DEPS_PREFIX}"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$build" -j"$jobs"
else
  build=build
  step "no CUDA PyTorch in python3: the default build (scripts/build.sh)"
  NMT_JOBS="$jobs" scripts/build.sh >&2
fi
nmt="$build/nmt"
device="${NMT_GPU_DEVICE:-$("$nmt" info | python3 -c 'import json,sys; print("cuda" if json.load(sys.stdin)["cuda_devices"] > 0 else "cpu")')}"
step "device $device"

# 2. Tests.
step "[device] tests on $device"
NMT_TEST_DEVICE="$device" "$build/nmt_tests" "[device]" >&2
if [ "${NMT_GPU_CTEST:-1}" != 0 ]; then
  step "the whole suite (ctest -j$jobs)"
  (cd "$build" && NMT_TEST_DEVICE="$device" ctest -j"$jobs" --output-on-failure >&2)
fi

# 3. Train, translate and evaluate in fp32 and bf16.
mkdir -p "$out"
config() {  # config PRECISION FILE: transformer.json on DEVICE in PRECISION, validating every 500 steps (500 sentences)
  python3 - "$1" "$device" "$2" "${NMT_GPU_NUM_EXAMPLES:-}" "${NMT_GPU_VALID_EVERY:-500}" <<'PY'
import json, sys
c = json.load(open("configs/transformer.json"))
c["train"].update({"precision": sys.argv[1], "device": sys.argv[2],
                   "valid_every_steps": int(sys.argv[5]), "valid_bleu_sentences": 500})
if sys.argv[4]:
    c["data"]["num_examples"] = int(sys.argv[4])
json.dump(c, open(sys.argv[3], "w"), indent=1)
PY
}
rows=()
for precision in fp32 bf16; do
  run="$out/$precision"
  config "$precision" "$out/$precision.json"
  step "training $precision for $minutes minutes into $run"
  "$nmt" train --config "$out/$precision.json" --output "$run" --overwrite --max-minutes "$minutes" 2>"$run.log" ||
    { tail -20 "$run.log" >&2; exit 1; }
  echo "i'm home ." | "$nmt" translate --checkpoint "$run/latest" --device "$device" >&2
  "$nmt" eval --bleu --json --checkpoint "$run/latest" --device "$device" --split test >"$run.eval.json" 2>>"$run.log"
  rows+=("$(python3 - "$run" "$precision" <<'PY'
import json, sys
run, precision = sys.argv[1], sys.argv[2]
def lines(name):  # a run stopped by its time limit before its first validation has no metrics yet
    try:
        return [json.loads(l) for l in open(f"{run}/{name}") if l.strip()]
    except FileNotFoundError:
        return []
timing, metrics = lines("timing.jsonl"), lines("metrics.jsonl")
state = json.load(open(f"{run}/latest/state.json"))
ev = json.load(open(f"{run}.eval.json"))
secs = sum(t["train_seconds"] for t in timing)
rate = f"{sum(t['tokens_per_second'] * t['train_seconds'] for t in timing) / secs:.0f}" if secs > 0 else "-"
if metrics:  # steps per epoch from the last line (as quality.sh): step / (epoch - 1 + epoch_fraction)
    m = metrics[-1]
    epochs = f"{state['step'] * (m['epoch'] - 1 + m['epoch_fraction']) / m['step']:.2f}"
else:
    epochs = f"{state['step']} steps"
valid = f"{metrics[-1]['valid_bleu']:.2f}" if metrics and "valid_bleu" in metrics[-1] else "-"
print(f"| {precision} | {state['device']} | {epochs} | {rate} | {valid} | {ev['bleu']:.2f} | {ev['chrf2']:.2f} |")
PY
)")
done

# 4. Kill and resume.
run="$out/resume"
step "kill -9 after the first checkpoint, then --resume"
python3 - "$out/fp32.json" "$out/resume.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["train"].update({"valid_every_steps": 50, "valid_bleu_sentences": 20})
json.dump(c, open(sys.argv[2], "w"))
PY
"$nmt" train --config "$out/resume.json" --output "$run" --overwrite 2>"$run.log" &
pid=$!
for _ in $(seq 1 600); do [ -f "$run/latest/state.json" ] && break; sleep 1; done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -f "$run/latest/state.json" ] || { echo "[gpu_check] no checkpoint was written within 10 minutes" >&2; exit 1; }
before="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$run/latest/state.json")"
"$nmt" train --resume --output "$run" --max-minutes 0.3 2>>"$run.log" || { tail -20 "$run.log" >&2; exit 1; }
python3 - "$run/latest/state.json" "$before" "$device" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
want = "cuda:0" if sys.argv[3] == "cuda" else sys.argv[3]
assert s["step"] > int(sys.argv[2]), f"resume made no progress: step {s['step']} after {sys.argv[2]}"
assert s["device"] == want, f"state.json records device {s['device']}, expected {want}"
print(f"[gpu_check] resumed from step {sys.argv[2]} to {s['step']} on {s['device']}", file=sys.stderr)
PY

# 5. The table.
step "done"
echo "| precision | device | epochs | train tok/s | valid BLEU | test BLEU | chrF2 |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
