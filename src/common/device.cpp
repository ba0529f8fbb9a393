#include "common/device.h"

#include <stdexcept>

#include <torch/torch.h>

namespace nmt::common {

c10::Device resolve_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw std::invalid_argument("device \"" + name + "\" was asked for, but no CUDA device is available " +
                                  "(this LibTorch build or machine has none); use \"cpu\" or \"auto\"");
    int64_t index = 0;
    if (name.size() > 5) {
      try {
        index = std::stoll(name.substr(5));
      } catch (const std::exception&) {
        throw std::invalid_argument("device \"" + name + "\" is malformed; expected cuda:N");
      }
    }
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (index < 0 || index >= count)
      throw std::invalid_argument("device \"" + name + "\" does not exist; " + std::to_string(count) +
                                  " CUDA device(s) available");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("device \"" + name + "\" is unknown; valid: auto, cpu, cuda, cuda:N");
}

int set_num_threads(int64_t num_threads) {
  if (num_threads > 0) at::set_num_threads(static_cast<int>(num_threads));
  return at::get_num_threads();
}

}  // namespace nmt::common
