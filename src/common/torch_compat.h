#pragma once
// The LibTorch calls whose spelling differs between Debian's LibTorch 1.13 (CI, this machine) and the 2.x
// LibTorch inside pip's PyTorch (the CUDA machines). Callers use these; only torch_compat.cpp names the versioned
// API (TORCH_VERSION_MAJOR/MINOR from <torch/version.h>).

#include <vector>

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/types.h>

namespace nmt::common {

/// Whether autocast (automatic mixed precision) is on for `device_type` (kCPU or kCUDA) on this thread.
/// 1.13: at::autocast::is_cpu_enabled / is_enabled; >= 2.4: at::autocast::is_autocast_enabled(device_type).
/// Never throws; false for other device types.
bool autocast_enabled(c10::DeviceType device_type);

/// The lower-precision dtype autocast gives matrix products on `device_type` (kBFloat16 or kHalf).
c10::ScalarType autocast_dtype(c10::DeviceType device_type);

/// Turns autocast on or off for `device_type` on this thread and sets its dtype. Throws std::invalid_argument for a
/// device type other than kCPU and kCUDA.
void set_autocast(c10::DeviceType device_type, bool enabled, c10::ScalarType dtype);

/// Autocast's nesting counter (at::autocast::increment_nesting / decrement_nesting, the same in both versions):
/// returns the depth after the change. When it returns to 0 the caller clears autocast's weight-cast cache
/// (autocast_clear_cache), as PyTorch's `torch.autocast` does on leaving its outermost block.
int autocast_increment_nesting();
int autocast_decrement_nesting();
void autocast_clear_cache();

/// The state of every CUDA device's default generator (the ones torch::manual_seed seeds and CUDA dropout draws
/// from), device 0 first; empty when LibTorch sees no CUDA device (a CPU-only build or machine).
std::vector<torch::Tensor> cuda_rng_states();

/// Restores the first min(states.size(), device count) CUDA generators from `states` (cuda_rng_states' order) and
/// returns how many were restored (0 without CUDA). Throws c10::Error for a state tensor of the wrong size.
std::size_t set_cuda_rng_states(const std::vector<torch::Tensor>& states);

}  // namespace nmt::common
