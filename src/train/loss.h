#pragma once
// Masked softmax cross-entropy (d2l.ai §10.7 MaskedSoftmaxCELoss), with optional label smoothing, computed
// at the valid target positions only.

#include <torch/types.h>

namespace nmt::models {
class Seq2SeqModelImpl;
}

namespace nmt::train {

/// Sum of the loss over valid positions and the number of valid positions (both 0-dim tensors on the
/// device of the logits, so callers can accumulate without a host synchronisation).
struct MaskedLoss {
  torch::Tensor sum;         ///< Σ cross-entropy over positions below valid_len (nats)
  torch::Tensor num_tokens;  ///< number of positions below valid_len (float)
  /// Mean cross-entropy per target token.
  torch::Tensor mean() const { return sum / num_tokens.clamp_min(1); }
};

/// Row indices of the valid positions of a `[batch, steps]` tensor flattened to `[batch·steps]`:
/// b·steps + t for every t < valid_lens[b] (clamped to steps), in row-major order. `[num_valid]` int64 on
/// the device of `valid_lens` (one host synchronisation on CUDA, for the count).
torch::Tensor valid_positions(const torch::Tensor& valid_lens, int64_t steps);

/// `logits` `[batch, steps, vocab]`, `labels` `[batch, steps]` int64, `valid_lens` `[batch]`: positions at
/// or past valid_len weigh 0 (they are not computed at all).
MaskedLoss masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& valid_lens, double label_smoothing = 0.0);

/// The same loss from the decoder's features `[batch, steps, num_hiddens]` (Seq2SeqModelImpl::forward_features):
/// the output layer (`model.output_layer()`, through ops::projected_cross_entropy) runs only on the valid positions, so
/// padding costs neither the `[positions, tgt_vocab]` matrix product nor the softmax. Equal to
/// masked_cross_entropy(model.project(features), ...).
MaskedLoss masked_cross_entropy(models::Seq2SeqModelImpl& model, const torch::Tensor& features,
                                const torch::Tensor& labels, const torch::Tensor& valid_lens,
                                double label_smoothing = 0.0);

}  // namespace nmt::train
