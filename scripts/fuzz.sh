#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) and runs each for a while.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#     SECONDS  run time per target (default 600)
#     TARGET   config | preprocess | corpus | bleu (default: all four, one after another)
# Environment: NMT_FUZZ_DIR (default <repo>/build-fuzz) holds the binaries, the generated corpora
# (corpus-<target>/, seeded from the committed tests/fuzz/corpus/<target>/), logs and crash artifacts
# (artifacts/<target>/). NMT_FUZZ_JOBS (default 1) parallel libFuzzer jobs per target.
# Prints per target the executions reached and whether anything was found; exits 1 if any target
# found a crash, leak, timeout, out-of-memory or broken invariant.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config preprocess corpus bleu)
out="${NMT_FUZZ_DIR:-$root/build-fuzz}"
jobs="${NMT_FUZZ_JOBS:-1}"

# clang + libFuzzer runtime (Debian: clang and libclang-rt-<N>-dev), installed only when missing.
need_install=0
if ! command -v clang++ >/dev/null 2>&1; then
  need_install=1
else
  rt="$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a"
  [ -f "$rt" ] || need_install=1
fi
if [ "$need_install" = 1 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "[fuzz] installing clang and the libFuzzer runtime" >&2
  $sudo apt-get update -qq
  ver="$(apt-cache search --names-only '^libclang-rt-[0-9]+-dev$' | sed -E 's/^libclang-rt-([0-9]+)-dev.*/\1/' | sort -n | tail -1)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y clang ${ver:+libclang-rt-$ver-dev}
fi

cxxflags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
          -fno-sanitize-recover=undefined -I"$root/src" -I"$root/tests/fuzz")
read -r -a spdlog_cflags <<<"$(pkg-config --cflags spdlog 2>/dev/null || echo -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL)"
read -r -a spdlog_libs <<<"$(pkg-config --libs spdlog 2>/dev/null || echo -lspdlog -lfmt -pthread)"

sources_of() {
  case "$1" in
    config) echo "src/common/config.cpp" ;;
    preprocess) echo "src/data/preprocess.cpp" ;;
    corpus) echo "src/data/corpus.cpp src/data/preprocess.cpp src/data/vocab.cpp src/common/io.cpp" ;;
    bleu) echo "src/metrics/bleu.cpp src/metrics/text.cpp" ;;
    *) echo "unknown fuzz target: $1 (config, preprocess, corpus, bleu)" >&2; return 1 ;;
  esac
}

mkdir -p "$out"
for t in "${targets[@]}"; do
  srcs="$(sources_of "$t")"
  bin="$out/fuzz_$t"
  echo "[fuzz] building $bin" >&2
  # shellcheck disable=SC2086
  (cd "$root" && clang++ "${cxxflags[@]}" "${spdlog_cflags[@]}" "tests/fuzz/fuzz_$t.cpp" $srcs \
     -o "$bin" "${spdlog_libs[@]}" -lutf8proc)
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
summary=()
for t in "${targets[@]}"; do
  corpus="$out/corpus-$t"
  artifacts="$out/artifacts/$t/"
  log="$out/fuzz_$t.log"
  mkdir -p "$corpus" "$artifacts"
  marker="$out/.start-$t"
  touch "$marker"
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=4096 -print_final_stats=1
        -artifact_prefix="$artifacts")
  [ -f "$root/tests/fuzz/fuzz_$t.dict" ] && args+=(-dict="$root/tests/fuzz/fuzz_$t.dict")
  [ "$jobs" -gt 1 ] && args+=(-jobs="$jobs" -workers="$jobs")
  echo "[fuzz] running $t for ${seconds}s (log: $log)" >&2
  rc=0
  (cd "$out" && "$out/fuzz_$t" "${args[@]}" "$corpus" "$root/tests/fuzz/corpus/$t") >"$log" 2>&1 || rc=$?
  # With -jobs the per-job logs are fuzz-<N>.log in $out.
  execs="$(cat "$log" "$out"/fuzz-*.log 2>/dev/null || true)"
  execs="$(printf '%s\n' "$execs" | sed -n 's/^stat::number_of_executed_units: *//p' |
           awk '{s += $1} END {print s + 0}')"
  found="$(find "$artifacts" -type f -newer "$marker" | wc -l)"
  rm -f "$marker"
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    summary+=("$t: ${seconds}s, $execs executions, FOUND (exit $rc, $found artifact(s) in $artifacts; see $log)")
  else
    summary+=("$t: ${seconds}s, $execs executions, nothing found ($(find "$corpus" -type f | wc -l) files in $corpus)")
  fi
  rm -f "$out"/fuzz-*.log
done
printf '%s\n' "${summary[@]}"
exit "$status"
