#pragma once
// Inverted dropout layer (Srivastava et al. 2014; d2l.ai §5.6) over ops::dropout.

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace nmt::models {

/// Drop-in for torch::nn::Dropout: in training mode each element is zeroed with probability `p` and the
/// rest are scaled by 1/(1−p); in eval mode (or p = 0) the input is returned unchanged. Any shape.
///
/// The training-mode op is ops::dropout (ops/dropout_op.h): a counter-based hash mask seeded from LibTorch's
/// default CPU generator when the fused loops apply, torch::dropout otherwise. The constructor throws
/// std::invalid_argument unless 0 <= p < 1. No parameters or buffers: checkpoints written with
/// torch::nn::Dropout load unchanged.
class DropoutImpl : public torch::nn::Module {
 public:
  explicit DropoutImpl(double p = 0.5);
  /// `x` any shape -> same shape.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double p_;
};
TORCH_MODULE(Dropout);

}  // namespace nmt::models
