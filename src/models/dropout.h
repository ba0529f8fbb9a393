#pragma once
// Inverted dropout (Srivastava et al. 2014; d2l.ai §5.6) with a fast mask on CPU.

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace nmt::models {

/// Drop-in for torch::nn::Dropout: in training mode each element is zeroed with probability `p` and the
/// rest are scaled by 1/(1−p); in eval mode (or p = 0) the input is returned unchanged. Any shape.
///
/// LibTorch 1.13 without MKL draws dropout masks one element at a time from a Mersenne twister (45 ms of
/// each step of the 256-hidden Transformer here); on CPU float32 this module fills the mask with a counter-based hash instead
/// (common::kernels::dropout_mask), seeded from LibTorch's default CPU generator, so torch::manual_seed
/// and the generator state saved in checkpoints keep runs reproducible. Other devices and dtypes use
/// torch::dropout. Throws std::invalid_argument unless 0 <= p < 1. No parameters or buffers: checkpoints
/// written with torch::nn::Dropout load unchanged.
class DropoutImpl : public torch::nn::Module {
 public:
  explicit DropoutImpl(double p = 0.5);
  /// `x` any shape -> same shape.
  torch::Tensor forward(const torch::Tensor& x);
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(Dropout);

}  // namespace nmt::models
