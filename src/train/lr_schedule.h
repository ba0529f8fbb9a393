#pragma once
// Learning-rate schedules; their names are common::kLrSchedules (common/config.h).

#include <cstdint>
#include <string>

namespace nmt::train {

/// Learning rate for optimiser step `step` (1-based).
/// - common::kLrConstant ("constant"): `lr`.
/// - common::kLrInverseSqrt ("inverse_sqrt", Vaswani et al. 2017 §5.3, rescaled so the peak equals `lr`):
///   lr · min(step^-0.5, step · warmup^-1.5) · warmup^0.5 — linear warm-up for `warmup` steps, then decay ∝ step^-0.5.
/// - common::kLrLinear ("linear", budgeted training: Li et al. 2020; HF's linear schedule with warm-up):
///   lr · min(1, step / warmup) · (1 − progress) — linear warm-up, then linear decay that reaches 0 when the
///   run's budget is spent. `progress` is the fraction of that budget used before this step, in [0, 1]
///   (clamped); the other schedules ignore it.
/// Throws std::invalid_argument for an unknown name.
double learning_rate(const std::string& schedule, double lr, int64_t warmup, int64_t step, double progress = 0.0);

}  // namespace nmt::train
