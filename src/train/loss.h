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

/// Per-row softmax cross-entropy: `logits` `[rows, vocab]`, `labels` `[rows]` int64 in [0, vocab) ->
/// loss `[rows]` (nats), differentiable with respect to the logits. `label_smoothing` ε in [0, 1) mixes the
/// one-hot target with the uniform distribution (Szegedy et al. 2016), as torch's cross_entropy does.
/// On CPU float32 one fused loop (common/cpu_kernels.h) computes the loss and ∂loss/∂logits together in the
/// forward pass, so backward is one scaling pass; other devices and dtypes use torch's cross_entropy.
/// Throws c10::Error (TORCH_CHECK) on bad shapes or a label outside [0, vocab).
torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                    double label_smoothing = 0.0);

/// The output layer and softmax_cross_entropy together: loss `[rows]` (nats) of the logits
/// features · weightᵀ + bias for `features` `[rows, num_hiddens]`, `weight` `[vocab, num_hiddens]`, `bias`
/// `[vocab]`, `labels` `[rows]` int64; differentiable with respect to features, weight and bias. Equal to
/// softmax_cross_entropy(models::vocab_projection(features, weight, bias), labels, label_smoothing). On CPU
/// float32 the `[rows, vocab]` logits are overwritten by their gradient in the forward pass, and backward applies
/// the incoming per-row gradient on the `[rows, num_hiddens]` side of the products, so the only passes over
/// `[rows, vocab]` are the GEMMs and the loss's own row pass. Throws c10::Error (TORCH_CHECK) on bad shapes, a
/// label outside [0, vocab) or label_smoothing outside [0, 1).
torch::Tensor projected_cross_entropy(const torch::Tensor& features, const torch::Tensor& weight,
                                      const torch::Tensor& bias, const torch::Tensor& labels,
                                      double label_smoothing = 0.0);

/// Row indices of the valid positions of a `[batch, steps]` tensor flattened to `[batch·steps]`:
/// b·steps + t for every t < valid_lens[b] (clamped to steps), in row-major order. `[num_valid]` int64 on
/// the device of `valid_lens` (one host synchronisation on CUDA, for the count).
torch::Tensor valid_positions(const torch::Tensor& valid_lens, int64_t steps);

/// `logits` `[batch, steps, vocab]`, `labels` `[batch, steps]` int64, `valid_lens` `[batch]`: positions at
/// or past valid_len weigh 0 (they are not computed at all).
MaskedLoss masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& valid_lens, double label_smoothing = 0.0);

/// The same loss from the decoder's features `[batch, steps, num_hiddens]` (Seq2SeqModelImpl::forward_features):
/// the output layer (`model.output_layer()`, through projected_cross_entropy) runs only on the valid positions, so
/// padding costs neither the `[positions, tgt_vocab]` matrix product nor the softmax. Equal to
/// masked_cross_entropy(model.project(features), ...).
MaskedLoss masked_cross_entropy(models::Seq2SeqModelImpl& model, const torch::Tensor& features,
                                const torch::Tensor& labels, const torch::Tensor& valid_lens,
                                double label_smoothing = 0.0);

}  // namespace nmt::train
