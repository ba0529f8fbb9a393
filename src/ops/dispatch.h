#pragma once
// The one place that chooses between nmt's fused CPU loops (src/kernels) and LibTorch's own ops.

#include <initializer_list>
#include <string>

#include <torch/types.h>

namespace nmt::ops {

/// The environment variable that switches the fused loops off: `NMT_FUSED=0` sends every op in src/ops down its
/// LibTorch path (the path CUDA and other dtypes always take); `1` (the default) lets CPU float32 tensors use the
/// fused loops.
inline constexpr const char* kFusedEnv = "NMT_FUSED";

/// The meaning of an NMT_FUSED value: "0" -> false, "1" or "" -> true. Throws std::invalid_argument naming
/// NMT_FUSED and the value for anything else.
bool parse_fused(const std::string& value);

/// Whether the fused loops are enabled. The first call reads NMT_FUSED ("0" or "1"; unset or empty means 1)
/// and resolves the kernels' instruction set (kernels::active_isa, NMT_CPU_ISA), so that bad values surface
/// here, on the caller's thread; later calls return the cached choice until set_fused(). Throws
/// std::invalid_argument naming the variable and its value for any other NMT_FUSED, or a bad NMT_CPU_ISA.
bool fused_enabled();

/// Overrides the NMT_FUSED choice for every later op (tests; callers must not run ops on other threads
/// meanwhile). Never throws.
void set_fused(bool enabled);

/// Sets fused_enabled() for its lifetime and restores the previous value (test helper). Throws as
/// fused_enabled() (it reads the previous value).
class ScopedFused {
 public:
  explicit ScopedFused(bool enabled);
  ~ScopedFused();
  ScopedFused(const ScopedFused&) = delete;
  ScopedFused& operator=(const ScopedFused&) = delete;

 private:
  bool previous_;
};

/// The dispatch rule of every op in src/ops: true when fused_enabled(), CPU autocast is off (train.precision bf16
/// turns it on: train/precision.h) and every defined tensor of `tensors` is a dense float32 tensor on the CPU (undefined tensors, e.g. an absent bias, are skipped). Ops add their own
/// shape conditions (an empty vocabulary, int64 labels) and make inputs contiguous themselves. Throws as
/// fused_enabled().
bool use_fused(std::initializer_list<torch::Tensor> tensors);

/// `t` as float32 when it holds bf16 or fp16 values (autocast's matrix products), else `t` itself: the LibTorch
/// paths of the softmax ops widen their inputs with it so that they compute in float32 (and a -1e6 mask stays
/// finite). Same shape and device. Never throws for a defined tensor.
torch::Tensor widen_reduced(const torch::Tensor& t);

}  // namespace nmt::ops
