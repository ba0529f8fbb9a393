#include "train/precision.h"

#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

#include "common/config.h"
#include "common/torch_compat.h"

namespace nmt::train {

std::optional<c10::ScalarType> precision_dtype(const std::string& precision) {
  if (precision == common::kPrecisionFp32) return std::nullopt;
  if (precision == common::kPrecisionBf16) return c10::kBFloat16;
  if (precision == common::kPrecisionFp16) return c10::kHalf;
  throw std::invalid_argument("train.precision \"" + precision + "\" is unknown; valid: " +
                              common::join_names(common::kPrecisions));
}

void check_precision(const std::string& precision, const c10::Device& device) {
  const auto dtype = precision_dtype(precision);
  if (dtype == c10::kHalf && !device.is_cuda())
    throw std::invalid_argument("train.precision \"fp16\" needs a CUDA device (LibTorch's CPU autocast has no fp16 "
                                "path), but the run trains on " + device.str() + "; use \"bf16\" or \"fp32\" there");
}

ScopedAutocast::ScopedAutocast(const c10::Device& device, const std::string& precision) {
  const auto dtype = precision_dtype(precision);
  if (!dtype) return;
  type_ = device.type();
  previous_enabled_ = common::autocast_enabled(type_);
  previous_dtype_ = common::autocast_dtype(type_);
  common::set_autocast(type_, true, *dtype);
  common::autocast_increment_nesting();
  active_ = true;
}

ScopedAutocast::~ScopedAutocast() {
  if (!active_) return;
  if (common::autocast_decrement_nesting() == 0) common::autocast_clear_cache();
  common::set_autocast(type_, previous_enabled_, previous_dtype_);
}

LossScaler::LossScaler(LossScalerState state) : state_(state) {
  if (!(state_.scale > 0) || !std::isfinite(state_.scale))
    throw std::invalid_argument("loss scale must be positive and finite, got " + std::to_string(state_.scale));
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters) const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> finite;
  const double inverse = 1.0 / state_.scale;
  for (const auto& p : parameters) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inverse);
    finite.push_back(torch::isfinite(g).all());
  }
  return finite.empty() || torch::stack(finite).all().item<bool>();
}

void LossScaler::update(bool finite) {
  if (!finite) {
    state_.scale *= kBackoffFactor;
    state_.growth_tracker = 0;
    ++state_.skipped_steps;
    return;
  }
  if (++state_.growth_tracker == kGrowthInterval) {
    state_.scale *= kGrowthFactor;
    state_.growth_tracker = 0;
  }
}

}  // namespace nmt::train
