#include "common/torch_compat.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <stdexcept>

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

// PyTorch 2.4 replaced the per-device autocast functions (set_cpu_enabled, set_autocast_cpu_dtype, ...) by ones that
// take the device type and deprecated the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define NMT_AUTOCAST_BY_DEVICE_TYPE 1
#else
#define NMT_AUTOCAST_BY_DEVICE_TYPE 0
#endif

namespace nmt::common {

namespace {

void check_autocast_device(c10::DeviceType device_type) {
  if (device_type != c10::kCPU && device_type != c10::kCUDA)
    throw std::invalid_argument(std::string("autocast is supported on cpu and cuda only, not ") +
                                c10::DeviceTypeName(device_type, /*lower_case=*/true));
}

}  // namespace

bool autocast_enabled(c10::DeviceType device_type) {
  if (device_type != c10::kCPU && device_type != c10::kCUDA) return false;
#if NMT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(device_type);
#else
  return device_type == c10::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

c10::ScalarType autocast_dtype(c10::DeviceType device_type) {
  check_autocast_device(device_type);
#if NMT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(device_type);
#else
  return device_type == c10::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

void set_autocast(c10::DeviceType device_type, bool enabled, c10::ScalarType dtype) {
  check_autocast_device(device_type);
#if NMT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(device_type, dtype);
  at::autocast::set_autocast_enabled(device_type, enabled);
#else
  if (device_type == c10::kCPU) {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  }
#endif
}

int autocast_increment_nesting() { return at::autocast::increment_nesting(); }
int autocast_decrement_nesting() { return at::autocast::decrement_nesting(); }
void autocast_clear_cache() { at::autocast::clear_cache(); }

std::vector<torch::Tensor> cuda_rng_states() {
  std::vector<torch::Tensor> states;
  if (!torch::cuda::is_available()) return states;
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  for (int64_t i = 0; i < count; ++i) {
    auto generator = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(generator.mutex());
    states.push_back(generator.get_state());
  }
  return states;
}

std::size_t set_cuda_rng_states(const std::vector<torch::Tensor>& states) {
  if (!torch::cuda::is_available()) return 0;
  const auto count = std::min<std::size_t>(states.size(), torch::cuda::device_count());
  for (std::size_t i = 0; i < count; ++i) {
    auto generator = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(states[i]);
  }
  return count;
}

}  // namespace nmt::common
