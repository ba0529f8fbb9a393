#include "models/dropout.h"

#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "ops/dropout_op.h"

namespace nmt::models {

DropoutImpl::DropoutImpl(double p) : p_(p) {
  if (!(p >= 0.0 && p < 1.0)) throw std::invalid_argument("Dropout: p must be in [0, 1), got " + std::to_string(p));
}

torch::Tensor DropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0.0) return x;
  return ops::dropout(x, p_);
}

}  // namespace nmt::models
