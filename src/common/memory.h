#pragma once

#include <nlohmann/json.hpp>

/// \file
/// Keeping freed tensor memory in the process instead of returning it to the kernel.
///
/// LibTorch's CPU allocator calls `posix_memalign` / `free`. glibc serves blocks above its mmap threshold
/// (at most 32 MiB) with a fresh `mmap` and unmaps them on `free`, so every large tensor of every
/// training step — logits `[batch·steps, tgt_vocab]`, their gradient, the optimiser's temporaries — comes
/// back as untouched pages, and the first write to each 4 KiB page faults and zero-fills it. On the
/// 2-core benchmark machine that was 1.7 million page faults in 13 steps of the large Transformer and
/// 28% of the training time (bench/train_bench.cpp, `nmt_bench --hiddens 256`). Source: glibc `mallopt(3)`
/// (`M_MMAP_MAX`, `M_TRIM_THRESHOLD`).

namespace nmt::common {

/// Tells glibc malloc to serve every block from the heap (`M_MMAP_MAX` = 0) and to keep freed memory
/// (`M_TRIM_THRESHOLD` = 2 GiB - 1, the largest value mallopt takes), so a tensor freed in one step is reused, already mapped, in the next.
/// Resident memory then stays at the peak a run has reached instead of following each step's ups and
/// downs. Call once at the start of `main()`, before tensors are allocated. The environment variable
/// `NMT_MALLOC_TUNING=0` leaves glibc's defaults. Returns whether the settings were applied; never throws.
bool tune_malloc();

/// What tune_malloc() did, for `nmt info` and benchmark reports: {"tuned": false} or {"tuned": true,
/// "mmap_max": 0, "trim_threshold_bytes": 2147483647}. Never throws.
nlohmann::json malloc_info();

}  // namespace nmt::common
