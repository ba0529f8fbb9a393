#pragma once
// Inverted dropout as a tensor op (Srivastava et al. 2014; d2l.ai §5.6), with a fast mask on CPU.

#include <torch/types.h>

namespace nmt::ops {

/// Training-mode inverted dropout of `x` (any shape -> same shape): each element is zeroed with probability `p`
/// and the rest are scaled by 1/(1−p); differentiable (the gradient passes through the kept elements, scaled).
///
/// LibTorch 1.13 without MKL draws dropout masks one element at a time from a Mersenne twister (45 ms of each step
/// of the 256-hidden Transformer here); when ops::use_fused (ops/dispatch.h), the mask comes from a counter-based
/// hash instead (kernels::dropout_mask, split between kernel threads without changing it), seeded with 64 bits
/// drawn from LibTorch's default CPU generator, so torch::manual_seed and the generator state saved in
/// checkpoints keep runs reproducible. Otherwise torch::dropout (its masks differ from the fused ones for the
/// same seed). `p` must be in [0, 1) (the caller checks; p = 0 returns a scaled copy of x, i.e. x).
torch::Tensor dropout(const torch::Tensor& x, double p);

}  // namespace nmt::ops
