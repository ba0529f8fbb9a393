#pragma once
// Masked softmax and Bahdanau additive attention (d2l.ai §11.3, §11.4; Bahdanau et al. 2014).

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "models/dropout.h"

namespace nmt::models {

/// Batched matrix product `a` `[batch, m, k]` · `b` `[batch, k, n]` -> `[batch, m, n]`, differentiable, for
/// attention-sized matrices (d2l.ai §11.3: attention weights times values). LibTorch 1.13's bmm makes one
/// BLAS call per matrix on CPU (three tensor views each, about 1.4 µs per 10×64×10 product here); on CPU
/// float32 this runs common::kernels::matmul_* loops over the whole batch instead. Other devices and dtypes
/// use torch::bmm. Throws c10::Error on mismatched shapes.
torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b);

/// `a` `[batch, m, k]` · `b` `[batch, n, k]`ᵀ -> `[batch, m, n]`: queries against keys (d2l.ai §11.3 scaled
/// dot-product scores, before the scaling), without materialising the transposed keys. As batched_matmul.
torch::Tensor batched_matmul_nt(const torch::Tensor& a, const torch::Tensor& b);

/// Features of additive (Bahdanau) attention, d2l.ai §11.4: tanh(queries[:, :, None] + keys[:, None]) for
/// `queries` `[batch, num_queries, num_hiddens]` and projected `keys` `[batch, num_keys, num_hiddens]` ->
/// `[batch, num_queries, num_keys, num_hiddens]`, differentiable. On CPU float32 one loop
/// (common::kernels::additive_tanh, absolute error below 3e-7) instead of LibTorch's broadcast add and its tanh;
/// other devices and dtypes use those. Throws c10::Error on mismatched shapes.
torch::Tensor additive_features(const torch::Tensor& queries, const torch::Tensor& keys);

/// Softmax over the last axis of `scale` · `scores` (`scores` `[batch, queries, keys]`) where key positions at or
/// past the valid length get weight exactly 0 (d2l.ai §11.3 `masked_softmax`: masked scores are set to −1e6
/// before the softmax, so a row with length 0 is uniform). `valid_lens` (any integer type): undefined (no mask),
/// `[batch / group]` (same length for every query) or `[batch / group, queries]`; with `group` > 1, scores row
/// b·group + g uses length row b (the heads of multi-head attention, without repeating the lengths). On CPU
/// float32 one autograd function runs the scaling, the mask and the softmax in one pass per row and its backward
/// in another (common::kernels::masked_softmax_rows); elsewhere LibTorch's ops. Throws c10::Error on shapes that
/// do not match or a `group` that does not divide the batch.
torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& valid_lens, double scale = 1.0,
                             int64_t group = 1);

/// Boolean mask `[batch, steps]`, true where the position is below `valid_lens` `[batch]` (d2l `sequence_mask`).
torch::Tensor sequence_mask(const torch::Tensor& valid_lens, int64_t steps);

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
