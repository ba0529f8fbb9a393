#pragma once
// Device selection and thread settings. The device names are common::kDeviceForms (common/config.h).

#include <string>

#include <c10/core/Device.h>

namespace nmt::common {

/// Resolves a device name (common::parse_device_name): "auto" (CUDA device 0 when available, else CPU), "cpu",
/// "cuda" (device 0), "cuda:N". Throws std::invalid_argument naming the value when it is none of these forms,
/// when CUDA is asked for and LibTorch sees no CUDA device, or when N is not below the number of devices.
c10::Device resolve_device(const std::string& name);

/// Sets LibTorch's intra-op thread count (0 leaves LibTorch's default) and returns the count in use.
int set_num_threads(int64_t num_threads);

}  // namespace nmt::common
