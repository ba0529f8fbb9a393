#!/usr/bin/env bash
# Training and decoding throughput of nmt against the same models written in plain PyTorch
# (bench/reference/torch_reference.py: nn.GRU, nn.MultiheadAttention, F.cross_entropy, torch.optim.Adam) on the same
# library (Debian python3-torch = LibTorch 1.13.1), on the full fra-eng corpus, in d2l's units (target tokens/s).
#
#   scripts/bench.sh
#
# Builds the nmt_bench target, then for each model type and size runs, one after another (interleaved):
#   1. nmt_bench                      (OPENBLAS_CORETYPE unset: nmt picks its kernels itself, see common/blas.h);
#                                     greedy decoding and beam search of beam NMT_BENCH_BEAM (nmt only: the
#                                     Python reference decodes greedily)
#   2. bench/reference/torch_reference.py with OpenBLAS's default kernels (OPENBLAS_CORETYPE unset:
#      what a PyTorch user gets)
#   3. the same with OPENBLAS_CORETYPE (and OPENBLAS_THREAD_TIMEOUT) set as nmt_bench reported (same kernels as nmt)
# Sizes: book  = d2l's (embed 32, hiddens 32, 2 layers, batch 64; Transformer 4 heads, FFN 64)
#        large = embed 256, hiddens 256, 2 layers, batch 128; Transformer 4 heads, FFN 1024
# num_steps 10, min_freq 2, dropout 0.1, Adam at a constant lr 0.005 (large Transformer 0.001, see model_flags),
# all pairs, no held-out split, random batches trimmed to their longest sentence.
# Inside each run the GEMM ceiling (a 1024² sgemm) is probed right before every timed training step, and
# batched and one-at-a-time decoding alternate in 8 rounds (in nmt, greedy then beam in each round), so that the
# machine's changing speed lands on both sides of each ratio (bench/train_bench.cpp,
# bench/reference/torch_reference.py). With NMT_BENCH_REFERENCE=0 only step 1 runs (the Python columns show —).
# Writes bench/results/bench-<UTC date>.json (every run's JSON object plus the settings) and prints a markdown
# table, followed by the memory check: peak resident memory of the large (full-data) runs against 2 GiB.
#
# Environment knobs (defaults in brackets):
#   NMT_BENCH_BATCHES [30]        timed training batches per run
#   NMT_BENCH_WARMUP [3]          untimed warm-up batches
#   NMT_BENCH_SIZES [book,large]  sizes to run
#   NMT_BENCH_MODELS [seq2seq,seq2seq_attention,transformer]
#   NMT_BENCH_DECODE [2000]       sentences for batched greedy decoding (batch NMT_BENCH_DECODE_BATCH [128])
#   NMT_BENCH_DECODE1 [500]       sentences decoded one at a time (batch size 1)
#   NMT_BENCH_BEAM [4]            beam size of the beam search that nmt_bench times beside greedy, batched and one
#                                 at a time, on the same sentences (--decode-beam; 1 = no beam search)
#   NMT_BENCH_REFERENCE [1]       1 = run the Python reference (two runs per model and size); 0 = nmt only, e.g.
#                                 for a decoding-focused run that takes minutes
#   NMT_BENCH_DECODE_TRAIN [30]   seconds of further (untimed) training before decoding, so that the models
#                                 emit sentences of realistic length (decoding time follows output length)
#   NMT_BENCH_NUM_EXAMPLES [0]    use only the first N pairs (0 = all; for smoke runs)
#   NMT_BENCH_PYTHON [/usr/bin/python3]  a Python with torch (Debian's python3-torch)
#   NMT_BENCH_OUT [bench/results] output directory; NMT_BUILD_DIR [build]; NMT_JOBS [2] build jobs
# A smoke run: NMT_BENCH_BATCHES=3 NMT_BENCH_WARMUP=1 NMT_BENCH_DECODE=100 NMT_BENCH_DECODE1=10 \
#              NMT_BENCH_SIZES=book NMT_BENCH_NUM_EXAMPLES=5000 scripts/bench.sh
# Decoding only (greedy against beam 4, no Python): NMT_BENCH_REFERENCE=0 NMT_BENCH_SIZES=large \
#              NMT_BENCH_BATCHES=5 NMT_BENCH_WARMUP=2 NMT_BENCH_DECODE=1000 NMT_BENCH_DECODE1=200 scripts/bench.sh
#
# Data-parallel scaling instead (issue #17):   scripts/bench.sh nproc
#   trains configs/transformer.json (validating every 50 steps on 20 sentences) with `nmt train --nproc 2` (one
#   core and one OpenBLAS thread per rank, batch_size per rank) and with one process (two OpenBLAS threads),
#   alternating, NMT_BENCH_ROUNDS [2] rounds of NMT_BENCH_MINUTES [3] minutes each, and prints training tokens/s
#   (validation excluded) of each run, the ratio of each round, and the all-reduce seconds per step.
# Mixed precision on the CPU instead (issue #19):   scripts/bench.sh precision
#   the same config and rounds with train.precision bf16 against fp32 (one process each, alternating); prints
#   training tokens/s of each and their ratio.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${NMT_BUILD_DIR:-$root/build}"

if [ "${1:-}" = "nproc" ] || [ "${1:-}" = "precision" ]; then
  mode="$1"
  rounds="${NMT_BENCH_ROUNDS:-2}"
  minutes="${NMT_BENCH_MINUTES:-3}"
  [ -f "$root/data/fra-eng/fra.txt" ] || { echo "[bench] data/fra-eng/fra.txt is missing; run scripts/get_data.sh" >&2; exit 1; }
  "$root/scripts/build.sh" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  bench_config() {  # bench_config PRECISION FILE
    python3 - "$root/configs/transformer.json" "$1" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["train"].update({"valid_every_steps": 50, "valid_bleu_sentences": 20, "device": "cpu", "precision": sys.argv[2]})
json.dump(c, open(sys.argv[3], "w"))
PY
  }
  bench_config fp32 "$work/bench.json"
  bench_config bf16 "$work/bench_bf16.json"
  cd "$root"
  summary() {  # tokens/s over the run's timing lines, and the mean all-reduce seconds per step
    python3 - "$1" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
secs = sum(l["train_seconds"] for l in lines)
toks = sum(l["tokens_per_second"] * l["train_seconds"] for l in lines)
ar = [l["allreduce_seconds_per_step"] for l in lines if "allreduce_seconds_per_step" in l]
print(f"{toks / secs:.0f} {1000 * sum(ar) / len(ar):.1f}" if ar else f"{toks / secs:.0f} -")
PY
  }
  if [ "$mode" = precision ]; then
    echo "| round | bf16 tok/s | fp32 tok/s | bf16/fp32 |"
    echo "|---|---|---|---|"
    for r in $(seq 1 "$rounds"); do
      "$build/nmt" train --config "$work/bench_bf16.json" --output "$work/bf16_$r" --max-minutes "$minutes" \
        2>"$work/bf16_$r.log"
      "$build/nmt" train --config "$work/bench.json" --output "$work/fp32_$r" --max-minutes "$minutes" 2>"$work/fp32_$r.log"
      read -r bf16 _ <<<"$(summary "$work/bf16_$r/timing.jsonl")"
      read -r fp32 _ <<<"$(summary "$work/fp32_$r/timing.jsonl")"
      echo "| $r | $bf16 | $fp32 | $(python3 -c "print(f'{$bf16 / $fp32:.2f}')") |"
    done
    exit 0
  fi
  echo "| round | --nproc 2 tok/s | 1 process tok/s | ratio | all-reduce ms/step (2 ranks) |"
  echo "|---|---|---|---|---|"
  for r in $(seq 1 "$rounds"); do
    "$build/nmt" train --config "$work/bench.json" --output "$work/two$r" --max-minutes "$minutes" --nproc 2 2>"$work/two$r.log"
    OPENBLAS_NUM_THREADS=2 "$build/nmt" train --config "$work/bench.json" --output "$work/one$r" --max-minutes "$minutes" \
      2>"$work/one$r.log"
    read -r two ar <<<"$(summary "$work/two$r/timing.jsonl")"
    read -r one _ <<<"$(summary "$work/one$r/timing.jsonl")"
    echo "| $r | $two | $one | $(python3 -c "print(f'{$two / $one:.2f}')") | $ar |"
  done
  exit 0
fi
batches="${NMT_BENCH_BATCHES:-30}"
warmup="${NMT_BENCH_WARMUP:-3}"
sizes="${NMT_BENCH_SIZES:-book,large}"
models="${NMT_BENCH_MODELS:-seq2seq,seq2seq_attention,transformer}"
decode="${NMT_BENCH_DECODE:-2000}"
decode_batch="${NMT_BENCH_DECODE_BATCH:-128}"
decode1="${NMT_BENCH_DECODE1:-500}"
decode_train="${NMT_BENCH_DECODE_TRAIN:-30}"
beam="${NMT_BENCH_BEAM:-4}"
run_reference="${NMT_BENCH_REFERENCE:-1}"
num_examples="${NMT_BENCH_NUM_EXAMPLES:-0}"
python="${NMT_BENCH_PYTHON:-/usr/bin/python3}"
out_dir="${NMT_BENCH_OUT:-$root/bench/results}"
reference="$root/bench/reference/torch_reference.py"

case "$beam" in
  ''|*[!0-9]*|0) echo "[bench] NMT_BENCH_BEAM = '$beam' must be a positive integer (1 = no beam search)" >&2; exit 2 ;;
esac
case "$run_reference" in
  0|1) ;;
  *) echo "[bench] NMT_BENCH_REFERENCE = '$run_reference' must be 0 (nmt only) or 1 (with the Python reference)" >&2
     exit 2 ;;
esac
if [ "$run_reference" = 1 ] && ! "$python" -c 'import torch' 2>/dev/null; then
  echo "[bench] $python cannot import torch; install Debian's python3-torch (apt-get install -y python3-torch)" >&2
  exit 1
fi
[ -f "$root/data/fra-eng/fra.txt" ] || { echo "[bench] data/fra-eng/fra.txt is missing; run scripts/get_data.sh" >&2; exit 1; }

echo "[bench] building nmt_bench" >&2
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j"${NMT_JOBS:-2}" --target nmt_bench >/dev/null
bench_bin="$build/nmt_bench"

cd "$root"  # both programs read data/fra-eng/fra.txt relative to the repo root
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
runs="$tmp/runs.jsonl"
: >"$runs"

common=(--warmup "$warmup" --batches "$batches" --decode "$decode" --decode-batch "$decode_batch"
        --decode1 "$decode1" --decode-train-seconds "$decode_train" --num-examples "$num_examples" --dropout 0.1)

size_flags() {  # size model -> flags shared by nmt_bench and torch_reference.py
  case "$1" in
    book) echo "--embed 32 --hiddens 32 --layers 2 --batch 64 --heads 4 --ffn 64" ;;
    large) echo "--embed 256 --hiddens 256 --layers 2 --batch 128 --heads 4 --ffn 1024" ;;
    *) echo "[bench] unknown size '$1' in NMT_BENCH_SIZES (valid: book, large)" >&2; return 1 ;;
  esac
}

# Appends the JSON object printed by a run (its last stdout line) to $runs with a "kernels" field.
record() {  # kernels file
  tail -n 1 "$2" | jq -c --arg k "$1" '. + {kernels: $k}' >>"$runs"
}

model_flags() {  # size model -> learning rate, shared by nmt_bench and torch_reference.py
  # d2l's constant 0.005 (§10.7, §11.7) except for the 256-wide Transformer: at 0.005 without warm-up it learns
  # to emit <eos> first, so its decoding would time one step; at 0.001 it writes sentences (7-9 tokens here).
  if [ "$1" = large ] && [ "$2" = transformer ]; then echo "--lr 0.001"; else echo "--lr 0.005"; fi
}

IFS=',' read -r -a size_list <<<"$sizes"
IFS=',' read -r -a model_list <<<"$models"
for size in "${size_list[@]}"; do
  flags="$(size_flags "$size")"
  for model in "${model_list[@]}"; do
    # shellcheck disable=SC2086
    args=(--model "$model" --label "$size" $flags $(model_flags "$size" "$model") "${common[@]}")
    echo "[bench] $model $size: nmt" >&2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_THREAD_TIMEOUT -u NMT_BLAS_REEXEC "$bench_bin" "${args[@]}" \
      --decode-beam "$beam" >"$tmp/out.json"
    record nmt "$tmp/out.json"
    [ "$run_reference" = 1 ] || continue
    core="$(tail -n 1 "$tmp/out.json" | jq -r '.blas.core')"
    timeout="$(tail -n 1 "$tmp/out.json" | jq -r '.blas.openblas_thread_timeout // ""')"

    echo "[bench] $model $size: python, OpenBLAS default kernels (training only)" >&2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_THREAD_TIMEOUT "$python" "$reference" "${args[@]}" \
      --decode 0 --decode1 0 >"$tmp/out.json"
    record default "$tmp/out.json"

    if [ -n "$core" ]; then
      # nmt's OpenBLAS settings: its kernels and, when it set one, its thread timeout (common/blas.h).
      echo "[bench] $model $size: python, OPENBLAS_CORETYPE=$core OPENBLAS_THREAD_TIMEOUT=${timeout:-unset} (nmt's)" >&2
      if [ -n "$timeout" ]; then
        OPENBLAS_CORETYPE="$core" OPENBLAS_THREAD_TIMEOUT="$timeout" "$python" "$reference" "${args[@]}" >"$tmp/out.json"
      else
        env -u OPENBLAS_THREAD_TIMEOUT OPENBLAS_CORETYPE="$core" "$python" "$reference" "${args[@]}" >"$tmp/out.json"
      fi
      record same_as_nmt "$tmp/out.json"
    fi
  done
done

mkdir -p "$out_dir"
stamp="$(date -u +%Y%m%d-%H%M%S)"
result="$out_dir/bench-$stamp.json"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
jq -s --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
  --argjson nproc "$(nproc)" --argjson batches "$batches" --argjson warmup "$warmup" \
  --argjson beam "$beam" --argjson reference "$([ "$run_reference" = 1 ] && echo true || echo false)" \
  '{date: $date, commit: $commit, cpu: $cpu, nproc: $nproc, timed_batches: $batches, warmup_batches: $warmup,
    decode_beam: $beam, python_reference: $reference, runs: .}' \
  "$runs" >"$result.tmp"
mv "$result.tmp" "$result"
echo "[bench] wrote $result" >&2

"$python" - "$result" <<'EOF'
import json, sys

data = json.load(open(sys.argv[1]))
runs = {}
for r in data['runs']:
    runs[(r['model'], r['size'], r['kernels'])] = r

def fmt(x, digits=0):
    return '—' if x is None else f'{x:,.{digits}f}'

def get(r, *path):
    for p in path:
        if r is None or p not in r:
            return None
        r = r[p]
    return r

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

def times(x, digits):  # a ratio as "1.23×", or — when it is missing
    return '—' if x is None else f'{x:,.{digits}f}×'

beam = data.get('decode_beam', 1)  # files written before NMT_BENCH_BEAM: greedy only
bl = f'beam-{beam}' if beam > 1 else 'beam'

print(f"Training and decoding throughput, {data['date']} ({data['commit']}), {data['cpu']}, {data['nproc']} cores; "
      f"{data['warmup_batches']} warm-up + {data['timed_batches']} timed batches per run.")
print()
print('| model | size | nmt tok/s | python tok/s (default kernels) | python tok/s (same kernels) '
      '| nmt/python (default) | nmt/python (same) | nmt ms/step | nmt peak RSS (MiB) | python peak RSS (MiB) '
      '| nmt GFLOP/s (median step % of interleaved sgemm) | nmt decode sent/s batched | nmt decode sent/s batch-1 | batched/batch-1 '
      f'| nmt {bl} decode sent/s batched / batch-1 | {bl}/greedy (batched) '
      f'| python decode batched / batch-1 (same kernels) | decode output tokens nmt greedy / nmt {bl} / python |')
print('|' + '---|' * 18)
seen = []
for r in data['runs']:
    key = (r['model'], r['size'])
    if key in seen:
        continue
    seen.append(key)
    n, d, s = (runs.get(key + (k,)) for k in ('nmt', 'default', 'same_as_nmt'))
    nt, dt, st = get(n, 'tokens_per_second'), get(d, 'tokens_per_second'), get(s, 'tokens_per_second')
    gf = get(n, 'gflops')
    pct = get(n, 'percent_of_ceiling')
    gflops = '—' if gf is None else f"{gf:.2f} ({pct:.0f}% of {get(n, 'gemm_ceiling_gflops'):.0f})"
    nb, n1 = get(n, 'decoding', 'batched', 'sentences_per_second'), get(n, 'decoding', 'batch1', 'sentences_per_second')
    pb, p1 = get(s, 'decoding', 'batched', 'sentences_per_second'), get(s, 'decoding', 'batch1', 'sentences_per_second')
    bb = get(n, 'decoding', 'beam_batched', 'sentences_per_second')
    b1 = get(n, 'decoding', 'beam_batch1', 'sentences_per_second')
    rss = lambda x: None if get(x, 'peak_rss_bytes') is None else get(x, 'peak_rss_bytes') / 2**20
    print(f"| {key[0]} | {key[1]} | {fmt(nt)} | {fmt(dt)} | {fmt(st)} | {times(ratio(nt, dt), 2)} | {times(ratio(nt, st), 2)} "
          f"| {fmt(get(n, 'ms_per_step'), 1)} | {fmt(rss(n))} | {fmt(rss(d))} | {gflops} | {fmt(nb)} | {fmt(n1)} "
          f"| {times(ratio(nb, n1), 1)} | {fmt(bb)} / {fmt(b1)} | {times(ratio(bb, nb), 2)} | {fmt(pb)} / {fmt(p1)} "
          f"| {fmt(get(n, 'decoding', 'batched', 'mean_output_tokens'), 1)} / "
          f"{fmt(get(n, 'decoding', 'beam_batched', 'mean_output_tokens'), 1)} / "
          f"{fmt(get(s, 'decoding', 'batched', 'mean_output_tokens'), 1)} |")

print()
cores = sorted({get(r, 'blas', 'core') for r in data['runs'] if r['kernels'] == 'nmt'} - {None})
defaults = sorted({get(r, 'blas', 'core') for r in data['runs'] if r['kernels'] == 'default'} - {None})
print("GFLOP/s: matrix-product FLOPs per step (counted from the model sizes) over the step time; the percentage "
      "is the median over the timed steps of each step's rate over a 1024² sgemm probed right before it "
      "(the median probe in GFLOP/s after 'of').")
print()
python_cores = (f"python default {', '.join(defaults) or '?'}" if data.get('python_reference', True)
                else 'python reference not run (NMT_BENCH_REFERENCE=0)')
print(f"OpenBLAS cores: nmt {', '.join(cores) or '?'}; {python_cores}. "
      "Decoding uses the weights reached after the timed batches and NMT_BENCH_DECODE_TRAIN seconds more "
      "training, so output lengths differ between runs (mean decoder steps per sentence, <eos> included, in the "
      "last column; at most num_steps); compare decoding speeds across implementations with that in mind.")
if beam > 1:
    print()
    bsz = next((get(r, 'decoding', 'beam_batched', 'batch_size') for r in data['runs']
                if get(r, 'decoding', 'beam_batched') is not None), None)
    print(f"Beam search: beam {beam}, batched ({fmt(bsz)} sentences per search, {beam} rows each) and "
          "one sentence at a time, on the same sentences as greedy and in the same interleaved rounds; no length "
          "penalty, at most num_steps output tokens; its output tokens are those of the best hypothesis. "
          f"beam-{beam}/greedy is the beam rate over the greedy rate, both batched, from the same run.")
large = [r for r in data['runs'] if r['size'] == 'large' and r['kernels'] == 'nmt']
if large:
    print()
    print('Memory check (large size, full data, 2 GiB limit):')
    for r in large:
        mib = r['peak_rss_bytes'] / 2**20
        ok = r['peak_rss_bytes'] < 2 * 2**30
        print(f"- {r['model']}: nmt peak RSS {mib:,.0f} MiB over {r['pairs']:,} pairs -> "
              f"{'under 2 GiB' if ok else 'OVER 2 GiB'}")
EOF
