#pragma once
// A persistent pool of worker threads for the fused CPU loops (kernels/kernels.h).

#include <cstdint>
#include <functional>

namespace nmt::kernels {

/// Runs `part(i)` for i in [0, `parts`) and returns when all have finished: part 0 on the calling thread, part i
/// (i >= 1) on worker thread i − 1 of a process-wide pool. Workers are started on first need (the pool grows to
/// the most parts ever asked for, minus one), then park on a condition variable between calls (a wake-up costs
/// a few µs, against tens of µs to start a thread), and are joined at process exit. Which thread runs a part
/// never changes what the part computes, so results do not depend on the pool. One call at a time uses the
/// workers: a call made while another is running (from a part, or from another thread) runs its parts on its
/// own calling thread, in order. A worker that cannot be started leaves its parts to the calling thread.
/// `part` must not throw: the function is noexcept, so a throwing part, on any thread, calls std::terminate.
void parallel_parts(int64_t parts, const std::function<void(int64_t)>& part) noexcept;

/// Splits [0, `n`) into `parts` = max(1, min(`threads`, n / max(`grain`, 1))) contiguous ranges, range p being
/// [n·p/parts, n·(p+1)/parts) (so small `n` runs on the calling thread alone), and runs `range(p, begin, end)` on
/// each through parallel_parts. Nothing runs when n <= 0. Callers that combine per-part results in part order get
/// the same sums for the same `threads`.
void parallel_range(int64_t n, int threads, int64_t grain,
                    const std::function<void(int64_t part, int64_t begin, int64_t end)>& range);

/// Number of worker threads the pool has started so far (parts beyond part 0 of the largest call). Never throws.
int pool_workers();

}  // namespace nmt::kernels
