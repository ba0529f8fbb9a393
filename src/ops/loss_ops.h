#pragma once
// Softmax cross-entropy as tensor ops (d2l.ai §10.7 MaskedSoftmaxCELoss's per-token part; Szegedy et al. 2016 label
// smoothing), on the fused CPU loops when ops::use_fused allows, else LibTorch.

#include <torch/types.h>

namespace nmt::ops {

/// Per-row softmax cross-entropy: `logits` `[rows, vocab]`, `labels` `[rows]` int64 in [0, vocab) ->
/// loss `[rows]` (nats), differentiable with respect to the logits. `label_smoothing` ε in [0, 1) mixes the
/// one-hot target with the uniform distribution (Szegedy et al. 2016), as torch's cross_entropy does.
/// When ops::use_fused (ops/dispatch.h; int64 labels, vocab > 0), one fused loop (kernels::softmax_cross_entropy_row)
/// computes the loss and ∂loss/∂logits together in the forward pass, so backward is one scaling pass; otherwise
/// torch's cross_entropy, on bf16/fp16 logits (mixed precision) widened to float32 first (the loss is float32).
/// Throws c10::Error (TORCH_CHECK) on bad shapes or a label outside [0, vocab).
torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                    double label_smoothing = 0.0);

/// The output layer and softmax_cross_entropy together: loss `[rows]` (nats) of the logits
/// features · weightᵀ + bias for `features` `[rows, num_hiddens]`, `weight` `[vocab, num_hiddens]`, `bias`
/// `[vocab]`, `labels` `[rows]` int64; differentiable with respect to features, weight and bias. Equal to
/// softmax_cross_entropy(vocab_projection(features, weight, bias), labels, label_smoothing), which is what runs
/// unless ops::use_fused (int64 labels, vocab > 0). Fused, the `[rows, vocab]` logits are overwritten by their
/// gradient in the forward pass, and backward applies the incoming per-row gradient on the `[rows, num_hiddens]`
/// side of the products, so the only passes over `[rows, vocab]` are the GEMMs and the loss's own row pass. Throws c10::Error (TORCH_CHECK) on bad shapes, a
/// label outside [0, vocab) or label_smoothing outside [0, 1).
torch::Tensor projected_cross_entropy(const torch::Tensor& features, const torch::Tensor& weight,
                                      const torch::Tensor& bias, const torch::Tensor& labels,
                                      double label_smoothing = 0.0);

}  // namespace nmt::ops
