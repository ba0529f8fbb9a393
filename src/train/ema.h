#pragma once
// Exponential moving average of the weights, as Marian's --exponential-smoothing computes it
// (GraphGroup::updateAvgParams): after update number t (from 1) the average moves towards the new weights by
//   d_t = max(decay, 1 - t / (t + 9)),   avg <- (1 - d_t) * avg + d_t * weights,
// so the first updates follow the weights closely and later ones average over about 1 / decay updates.

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace nmt::train {

/// Marian's smoothing factor d_t for update number `step` (>= 1): max(decay, 1 - step / (step + 9)), i.e. the
/// issue's max(decay, 1 - (t + 1) / (t + 10)) with t = step - 1 updates before it. decay in [0, 1). Never throws.
double ema_factor(double decay, int64_t step);

/// The moving average of a list of parameters (a model's `parameters()`, in that order). Values live on the
/// parameters' devices, in their dtypes.
class ExponentialAverage {
 public:
  /// Starts from a copy of `parameters`. Throws std::invalid_argument unless 0 < decay < 1.
  ExponentialAverage(const std::vector<torch::Tensor>& parameters, double decay);
  /// Moves the average towards `parameters` (same list as at construction) by ema_factor(decay, step), without
  /// recording gradients. TORCH_CHECK fails when the list differs in length or shapes.
  void update(const std::vector<torch::Tensor>& parameters, int64_t step);
  /// The averaged values, one per parameter (assignable: --resume loads them with copy_).
  std::vector<torch::Tensor>& values() { return values_; }
  const std::vector<torch::Tensor>& values() const { return values_; }
  double decay() const { return decay_; }

 private:
  std::vector<torch::Tensor> values_;
  double decay_;
};

/// Puts `values` into `parameters` (copy_, bit for bit) for the guard's lifetime and restores the parameters'
/// own values when it ends, also on an exception: validation and ema.pt use the averaged weights this way.
/// TORCH_CHECK fails when the lists differ in length or shapes. Both lists must outlive the guard.
class ScopedWeights {
 public:
  ScopedWeights(const std::vector<torch::Tensor>& parameters, const std::vector<torch::Tensor>& values);
  ~ScopedWeights();
  ScopedWeights(const ScopedWeights&) = delete;
  ScopedWeights& operator=(const ScopedWeights&) = delete;

 private:
  std::vector<torch::Tensor> parameters_, saved_;
};

}  // namespace nmt::train
