#pragma once
// Test helper: the device the device-taking tests ([device]) run on: NMT_TEST_DEVICE ("cpu" when unset or empty;
// scripts/gpu_check.sh sets "cuda"), resolved as train.device is.

#include <cstdlib>
#include <string>

#include "common/device.h"

namespace nmt::test {

/// NMT_TEST_DEVICE resolved with common::resolve_device (throws std::invalid_argument for a bad or absent device).
inline c10::Device test_device() {
  const char* value = std::getenv("NMT_TEST_DEVICE");
  return common::resolve_device(value != nullptr && *value != '\0' ? value : "cpu");
}

}  // namespace nmt::test
