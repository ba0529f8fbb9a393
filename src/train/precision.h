#pragma once
// Mixed-precision training (train.precision; Micikevicius et al. 2018, "Mixed Precision Training"): autocast runs
// the matrix products of the forward pass in bf16 or fp16 while the weights (the "master" copy Adam updates), the
// softmaxes, the loss and the gradients Adam sees stay float32; fp16 adds dynamic loss scaling with the semantics of
// PyTorch's torch.cuda.amp.GradScaler (initial scale 2^16, halved on overflow, doubled after 2000 good steps).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/types.h>

namespace nmt::train {

/// The reduced dtype of a train.precision name (common::kPrecisions): "bf16" -> kBFloat16, "fp16" -> kHalf,
/// "fp32" -> nullopt. Throws std::invalid_argument naming train.precision and the value for any other name.
std::optional<c10::ScalarType> precision_dtype(const std::string& precision);

/// Checks that `precision` can train on `device`: "fp16" needs a CUDA device (LibTorch's CPU autocast has no fp16
/// path). Throws std::invalid_argument naming train.precision, the value and the device otherwise, or for an
/// unknown name.
void check_precision(const std::string& precision, const c10::Device& device);

/// Autocast on `device`'s type (CPU or CUDA) with `precision`'s dtype for the guard's lifetime, on this thread:
/// LibTorch's autocast-listed ops (linear, matmul, bmm, mm, ...) then run in that dtype on float32 inputs, and the
/// ops of src/ops take their LibTorch path (ops::use_fused is false under autocast) and compute softmaxes and the
/// cross-entropy in float32. Nothing happens for "fp32". On leaving, the previous autocast state comes back and,
/// at the outermost level, autocast's cache of cast weights is cleared (as PyTorch's torch.autocast does), so the
/// next step casts the updated weights. Throws as precision_dtype.
class ScopedAutocast {
 public:
  ScopedAutocast(const c10::Device& device, const std::string& precision);
  ~ScopedAutocast();
  ScopedAutocast(const ScopedAutocast&) = delete;
  ScopedAutocast& operator=(const ScopedAutocast&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::kCPU;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::kBFloat16;
};

/// Where a LossScaler stands (saved in state.json, so a resumed fp16 run scales as an uninterrupted one).
struct LossScalerState {
  double scale = 65536.0;      ///< current loss scale (a power of two)
  int64_t growth_tracker = 0;  ///< finite steps since the scale last changed
  int64_t skipped_steps = 0;   ///< updates skipped because the scaled gradients overflowed, in the whole run
};

/// Dynamic loss scaling for fp16 training, as torch.cuda.amp.GradScaler does it: the loss is multiplied by
/// scale() before backward so small fp16 gradients do not flush to zero; unscale() divides the gradients back and
/// reports whether they are finite; update() halves the scale after an overflow (the caller skips that update)
/// and doubles it after kGrowthInterval finite steps in a row.
class LossScaler {
 public:
  static constexpr double kGrowthFactor = 2.0;
  static constexpr double kBackoffFactor = 0.5;
  static constexpr int64_t kGrowthInterval = 2000;

  /// Starts from `state` (a resumed run's). Throws std::invalid_argument unless state.scale is positive and finite.
  explicit LossScaler(LossScalerState state = {});
  /// The factor to multiply the loss by before backward.
  double scale() const { return state_.scale; }
  /// Divides every defined gradient of `parameters` by scale() in place and returns whether all of them are
  /// finite (one host synchronisation on CUDA). Parameters without a gradient are skipped.
  bool unscale(const std::vector<torch::Tensor>& parameters) const;
  /// Records one step: `finite` false multiplies the scale by kBackoffFactor, restarts the growth count and counts
  /// a skipped step; true counts a finite step and multiplies the scale by kGrowthFactor after kGrowthInterval
  /// of them in a row.
  void update(bool finite);
  const LossScalerState& state() const { return state_; }

 private:
  LossScalerState state_;
};

}  // namespace nmt::train
