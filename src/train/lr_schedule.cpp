#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/config.h"

namespace nmt::train {

double learning_rate(const std::string& schedule, double lr, int64_t warmup, int64_t step, double progress) {
  if (schedule == common::kLrConstant) return lr;
  const double s = static_cast<double>(std::max<int64_t>(step, 1));
  const double w = static_cast<double>(std::max<int64_t>(warmup, 1));
  if (schedule == common::kLrInverseSqrt) return lr * std::sqrt(w) * std::min(1.0 / std::sqrt(s), s * std::pow(w, -1.5));
  if (schedule == common::kLrLinear) return lr * std::min(1.0, s / w) * (1.0 - std::clamp(progress, 0.0, 1.0));
  throw std::invalid_argument("unknown lr_schedule \"" + schedule + "\"; valid: " + common::join_names(common::kLrSchedules));
}

}  // namespace nmt::train
