#include "ops/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "common/torch_compat.h"
#include "kernels/cpu_isa.h"

namespace nmt::ops {

namespace {

/// -1 until decided, then 0 or 1.
std::atomic<int> g_fused{-1};
std::mutex g_mutex;

bool read_environment() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (const int fused = g_fused.load(std::memory_order_relaxed); fused >= 0) return fused == 1;
  const char* value = std::getenv(kFusedEnv);
  const bool fused = parse_fused(value == nullptr ? "" : value);
  kernels::active_isa();  // a bad NMT_CPU_ISA throws here, not inside a worker thread
  g_fused.store(fused ? 1 : 0, std::memory_order_relaxed);
  return fused;
}

}  // namespace

bool parse_fused(const std::string& value) {
  if (value.empty() || value == "1") return true;
  if (value == "0") return false;
  throw std::invalid_argument(std::string(kFusedEnv) + "=" + value +
                              ": expected 0 (LibTorch ops only) or 1 (fused CPU loops)");
}

bool fused_enabled() {
  const int fused = g_fused.load(std::memory_order_relaxed);
  return fused >= 0 ? fused == 1 : read_environment();
}

void set_fused(bool enabled) { g_fused.store(enabled ? 1 : 0, std::memory_order_relaxed); }

ScopedFused::ScopedFused(bool enabled) : previous_(fused_enabled()) { set_fused(enabled); }

ScopedFused::~ScopedFused() { set_fused(previous_); }

bool use_fused(std::initializer_list<torch::Tensor> tensors) {
  // Under CPU autocast (train.precision bf16) the matrix products belong to LibTorch's autocast, which the fused
  // loops would bypass.
  if (!fused_enabled() || common::autocast_enabled(c10::kCPU)) return false;
  for (const auto& t : tensors)
    if (t.defined() && (!t.device().is_cpu() || t.scalar_type() != torch::kFloat || t.layout() != torch::kStrided))
      return false;
  return true;
}

torch::Tensor widen_reduced(const torch::Tensor& t) {
  const bool reduced = t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf;
  return reduced ? t.to(torch::kFloat) : t;
}

}  // namespace nmt::ops
