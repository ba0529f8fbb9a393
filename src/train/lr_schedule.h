#pragma once
// Learning-rate schedules; their names are common::kLrSchedules (common/config.h).

#include <cstdint>
#include <string>

namespace nmt::train {

/// Learning rate for optimiser step `step` (1-based). common::kLrConstant ("constant"): `lr`.
/// common::kLrInverseSqrt ("inverse_sqrt", Vaswani et al. 2017 §5.3, rescaled so the peak equals `lr`):
/// lr · min(step^-0.5, step · warmup^-1.5) · warmup^0.5 — linear warm-up for `warmup` steps, then decay
/// ∝ step^-0.5. Throws std::invalid_argument for an unknown name.
double learning_rate(const std::string& schedule, double lr, int64_t warmup, int64_t step);

}  // namespace nmt::train
