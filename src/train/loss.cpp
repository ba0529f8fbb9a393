#include "train/loss.h"

#include <torch/torch.h>

#include "models/attention.h"

namespace nmt::train {

MaskedLoss masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& valid_lens, double label_smoothing) {
  TORCH_CHECK(logits.dim() == 3, "logits must be [batch, steps, vocab], got ", logits.sizes());
  TORCH_CHECK(labels.sizes() == logits.sizes().slice(0, 2), "labels ", labels.sizes(), " do not match logits ",
              logits.sizes());
  const int64_t vocab = logits.size(2);
  namespace F = torch::nn::functional;
  auto per_token = F::cross_entropy(logits.reshape({-1, vocab}), labels.reshape({-1}),
                                    F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(label_smoothing))
                       .view(labels.sizes());
  auto mask = models::sequence_mask(valid_lens, labels.size(1)).to(per_token.dtype());
  return {(per_token * mask).sum(), mask.sum()};
}

}  // namespace nmt::train
