#include "common/device.h"

#include <stdexcept>

#include <torch/torch.h>

#include "common/config.h"

namespace nmt::common {

c10::Device resolve_device(const std::string& name) {
  const std::optional<DeviceName> parsed = parse_device_name(name);
  if (!parsed) throw std::invalid_argument("device \"" + name + "\" is unknown; valid: " + join_names(kDeviceForms));
  switch (parsed->kind) {
    case DeviceName::Kind::kCpu:
      return c10::Device(c10::kCPU);
    case DeviceName::Kind::kAuto:
      return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    case DeviceName::Kind::kCuda:
      break;
  }
  if (!torch::cuda::is_available())
    throw std::invalid_argument("device \"" + name + "\" was asked for, but no CUDA device is available " +
                                "(this LibTorch build or machine has none); use \"cpu\" or \"auto\"");
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  if (parsed->index >= count)
    throw std::invalid_argument("device \"" + name + "\" does not exist; " + std::to_string(count) +
                                " CUDA device(s) available");
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(parsed->index));
}

int set_num_threads(int64_t num_threads) {
  if (num_threads > 0) at::set_num_threads(static_cast<int>(num_threads));
  return at::get_num_threads();
}

}  // namespace nmt::common
