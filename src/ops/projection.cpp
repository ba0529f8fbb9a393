#include "ops/projection.h"

#include <torch/torch.h>

#include "common/blas.h"
#include "kernels/kernels.h"
#include "ops/dispatch.h"

namespace nmt::ops {

torch::Tensor vocab_projection(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(features.dim() >= 1 && weight.dim() == 2 && features.size(-1) == weight.size(1) && bias.dim() == 1 &&
                  bias.size(0) == weight.size(0),
              "vocab_projection: features ", features.sizes(), ", weight ", weight.sizes(), " and bias ", bias.sizes(),
              " do not match");
  auto sizes = features.sizes().vec();
  sizes.back() = weight.size(0);
  return torch::mm(features.reshape({-1, features.size(-1)}), weight.t()).add_(bias).view(sizes);
}

torch::Tensor projected_argmax(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(features.dim() >= 1 && weight.dim() == 2 && features.size(-1) == weight.size(1) && bias.dim() == 1 &&
                  bias.size(0) == weight.size(0) && weight.size(0) > 0,
              "projected_argmax: features ", features.sizes(), ", weight ", weight.sizes(), " and bias ", bias.sizes(),
              " do not match");
  if (!use_fused({features, weight, bias})) return vocab_projection(features, weight, bias).argmax(-1);
  const int64_t hiddens = features.size(-1), rows = hiddens == 0 ? 0 : features.numel() / hiddens;
  const auto x = features.reshape({rows, hiddens}).contiguous();
  const auto w = weight.contiguous(), b = bias.contiguous();
  auto sizes = features.sizes().vec();
  sizes.pop_back();
  auto out = torch::empty(sizes, torch::kLong);
  kernels::projected_argmax(x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(), rows, hiddens, w.size(0),
                            out.data_ptr<int64_t>(), common::kernel_threads());
  return out;
}

}  // namespace nmt::ops
