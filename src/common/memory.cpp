#include "common/memory.h"

#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace nmt::common {

namespace {

constexpr int kTrimThresholdBytes = INT_MAX;  // mallopt takes an int
bool g_tuned = false;

}  // namespace

bool tune_malloc() {
  const char* env = std::getenv("NMT_MALLOC_TUNING");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  // mallopt returns 1 on success, 0 on error; the order matters only in that both must succeed.
  const bool mmap_ok = mallopt(M_MMAP_MAX, 0) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes) == 1;
  g_tuned = mmap_ok && trim_ok;
  return g_tuned;
}

nlohmann::json malloc_info() {
  if (!g_tuned) return {{"tuned", false}};
  return {{"tuned", true}, {"mmap_max", 0}, {"trim_threshold_bytes", kTrimThresholdBytes}};
}

}  // namespace nmt::common
