#pragma once
// Adam with a one-pass update and gradient-norm clipping folded into it.

#include <vector>

#include <torch/optim/adam.h>

namespace nmt::train {

/// torch::optim::Adam (Kingma & Ba 2015; LibTorch's defaults and options) whose step() runs one fused loop
/// per parameter (ops::adam_update, kernels::adam_update) instead of LibTorch's eight tensor passes. The state is
/// LibTorch's own AdamParamState (step, exp_avg, exp_avg_sq), so optimizer.pt files load in either class.
/// Unless ops::use_fused_adam (ops/adam.h: fused loops enabled, i.e. not NMT_FUSED=0; dense, contiguous float32
/// CPU parameters and gradients; no amsgrad), clipping and step() are torch::nn::utils::clip_grad_norm_ and
/// torch::optim::Adam::step. Results agree with torch::optim::Adam to float rounding (about 1e-7 relative),
/// not bit for bit; for a given build and OpenBLAS thread count they are deterministic. Clipping's sum of
/// squares and the update split all elements between as many threads as OpenBLAS uses, at least 2^19 each.
class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;

  /// Gradient-norm clipping (Pascanu et al. 2013, as torch::nn::utils::clip_grad_norm_ with the L2 norm):
  /// computes the L2 norm of all gradients of this optimiser's parameters and, when it exceeds `max_norm`,
  /// makes the next step() use gradients scaled by max_norm / (norm + 1e-6). On the fused path the gradient
  /// tensors are not modified (the scale is applied inside the update); otherwise this is
  /// torch::nn::utils::clip_grad_norm_, which scales them in place. Returns the norm before clipping (NaN or
  /// inf when a gradient is). Throws std::invalid_argument unless `max_norm` > 0.
  double clip_grad_norm(double max_norm);

  /// One Adam update with the current learning rate of each group and the clipping scale set by
  /// clip_grad_norm() (which it then resets to 1). `closure` as in torch::optim::Optimizer::step. Throws
  /// c10::Error when a parameter's saved state does not match its shape (a foreign optimizer.pt).
  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  /// ops::use_fused_adam over every group's parameters (amsgrad if any group uses it): then clipping and the
  /// update run on the fused loops (ops/adam.h); otherwise in LibTorch.
  bool fused_path() const;

  double grad_scale_ = 1.0;
};

}  // namespace nmt::train
