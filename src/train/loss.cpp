#include "train/loss.h"

#include <torch/torch.h>

#include "models/seq2seq.h"
#include "ops/attention_ops.h"
#include "ops/loss_ops.h"

namespace nmt::train {

namespace {

/// MaskedLoss of a per-token loss `[num_valid]`.
MaskedLoss summed(const torch::Tensor& per_token) {
  return {per_token.sum(), torch::full({}, static_cast<double>(per_token.size(0)), per_token.options())};
}

}  // namespace

torch::Tensor valid_positions(const torch::Tensor& valid_lens, int64_t steps) {
  return torch::nonzero(ops::sequence_mask(valid_lens, steps).reshape({-1})).squeeze(1);
}

MaskedLoss masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& valid_lens, double label_smoothing) {
  TORCH_CHECK(logits.dim() == 3, "logits must be [batch, steps, vocab], got ", logits.sizes());
  TORCH_CHECK(labels.sizes() == logits.sizes().slice(0, 2), "labels ", labels.sizes(), " do not match logits ",
              logits.sizes());
  const auto rows = valid_positions(valid_lens, labels.size(1));
  return summed(ops::softmax_cross_entropy(logits.reshape({-1, logits.size(2)}).index_select(0, rows),
                                           labels.reshape({-1}).index_select(0, rows), label_smoothing));
}

MaskedLoss masked_cross_entropy(models::Seq2SeqModelImpl& model, const torch::Tensor& features,
                                const torch::Tensor& labels, const torch::Tensor& valid_lens, double label_smoothing) {
  TORCH_CHECK(features.dim() == 3, "features must be [batch, steps, num_hiddens], got ", features.sizes());
  TORCH_CHECK(labels.sizes() == features.sizes().slice(0, 2), "labels ", labels.sizes(), " do not match features ",
              features.sizes());
  const auto rows = valid_positions(valid_lens, labels.size(1));
  const auto [weight, bias] = model.output_layer();
  return summed(ops::projected_cross_entropy(features.reshape({-1, features.size(2)}).index_select(0, rows), weight,
                                             bias, labels.reshape({-1}).index_select(0, rows), label_smoothing));
}

}  // namespace nmt::train
