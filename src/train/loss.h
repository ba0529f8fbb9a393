#pragma once
// Masked softmax cross-entropy (d2l.ai §10.7 MaskedSoftmaxCELoss), with optional label smoothing.

#include <torch/types.h>

namespace nmt::train {

/// Sum of the loss over valid positions and the number of valid positions (both 0-dim tensors on the
/// device of the logits, so callers can accumulate without a host synchronisation).
struct MaskedLoss {
  torch::Tensor sum;         ///< Σ cross-entropy over positions below valid_len (nats)
  torch::Tensor num_tokens;  ///< number of positions below valid_len (float)
  /// Mean cross-entropy per target token.
  torch::Tensor mean() const { return sum / num_tokens.clamp_min(1); }
};

/// `logits` `[batch, steps, vocab]`, `labels` `[batch, steps]` int64, `valid_lens` `[batch]`: positions at
/// or past valid_len weigh 0. `label_smoothing` ε in [0, 1) mixes the one-hot target with the uniform
/// distribution (Szegedy et al. 2016), as torch's cross_entropy does.
MaskedLoss masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& valid_lens, double label_smoothing = 0.0);

}  // namespace nmt::train
