#pragma once
// Masked softmax and Bahdanau additive attention (d2l.ai §11.3, §11.4; Bahdanau et al. 2014).

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "models/dropout.h"
#include "ops/attention_ops.h"

namespace nmt::models {

struct AdditiveAttentionOptions {
  int64_t key_size = 0;     ///< width of the keys
  int64_t query_size = 0;   ///< width of the queries
  int64_t num_hiddens = 0;  ///< width of the hidden layer of the scoring MLP
  double dropout = 0.0;     ///< dropout on the attention weights
};

/// Additive attention: score(q, k) = w_vᵀ tanh(W_q q + W_k k); weights = masked softmax; output = weights · V.
class AdditiveAttentionImpl : public torch::nn::Module {
 public:
  explicit AdditiveAttentionImpl(const AdditiveAttentionOptions& options);
  /// W_k · keys: `[batch, keys, key_size]` -> `[batch, keys, num_hiddens]`. Compute once per batch.
  torch::Tensor project_keys(const torch::Tensor& keys);
  /// `queries` `[batch, queries, query_size]`, `projected_keys` from project_keys, `values` `[batch, keys, value_size]`,
  /// `valid_lens` `[batch]` -> output `[batch, queries, value_size]`; `weights` (if non-null) gets `[batch, queries, keys]`.
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& projected_keys, const torch::Tensor& values,
                        const torch::Tensor& valid_lens, torch::Tensor* weights = nullptr);

 private:
  torch::nn::Linear W_k{nullptr}, W_q{nullptr}, w_v{nullptr};
  Dropout dropout_{nullptr};
};
TORCH_MODULE(AdditiveAttention);

}  // namespace nmt::models
