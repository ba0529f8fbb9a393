#pragma once
// Adam's update and gradient-norm clipping over whole parameter lists, on the fused CPU loops (train/optimizer.h
// decides the LibTorch fallback with use_fused_adam).

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace nmt::ops {

/// Whether the fused Adam update and clipping apply (the optimizer's form of ops::use_fused, ops/dispatch.h):
/// fused loops enabled, no amsgrad (the fused loop has no max_exp_avg_sq), and every parameter of `params` that
/// has a gradient is a contiguous float32 CPU tensor whose gradient is dense, contiguous, float32 and on the CPU.
/// Throws as ops::fused_enabled().
bool use_fused_adam(const std::vector<torch::Tensor>& params, bool amsgrad);

/// Σ x² over every element of `grads` (contiguous float32 CPU tensors, as use_fused_adam requires), in double:
/// the concatenated elements are split between common::kernel_threads() shares of at least 2^19 elements,
/// each share sums its pieces with kernels::sum_of_squares, and the shares' sums are added in share order
/// (deterministic for a given thread count). Throws nothing.
double sum_of_squares(const std::vector<torch::Tensor>& grads);

/// One parameter's fused Adam update (kernels::adam_update): the tensors (contiguous float32 CPU, same number of
/// elements; `param`, `exp_avg` and `exp_avg_sq` are updated in place) and the step's scalars:
/// step_size = lr / (1 − β1^t), sqrt_bias_correction2 = √(1 − β2^t).
struct AdamParamUpdate {
  torch::Tensor param, grad, exp_avg, exp_avg_sq;
  float step_size, beta1, beta2, sqrt_bias_correction2, eps, weight_decay;
};

/// Runs every update of `updates` with gradients scaled by `grad_scale` (gradient clipping's factor, 1 for none):
/// their concatenated elements are split between common::kernel_threads() shares of at least 2^19 elements
/// (element-wise: the split changes no result). One pass over the four arrays per element. Throws nothing.
void adam_update(const std::vector<AdamParamUpdate>& updates, float grad_scale);

}  // namespace nmt::ops
