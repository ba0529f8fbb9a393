#pragma once
// Tensor-level attention ops (d2l.ai §11.3, §11.4): batched products, Bahdanau's features, the masked softmax.
// Each runs the fused CPU loops (kernels/kernels.h) when ops::use_fused (ops/dispatch.h) allows, else LibTorch.

#include <torch/types.h>

namespace nmt::ops {

/// Batched matrix product `a` `[batch, m, k]` · `b` `[batch, k, n]` -> `[batch, m, n]`, differentiable, for
/// attention-sized matrices (d2l.ai §11.3: attention weights times values). LibTorch 1.13's bmm makes one
/// BLAS call per matrix on CPU (three tensor views each, about 1.4 µs per 10×64×10 product here); when
/// ops::use_fused (ops/dispatch.h) this runs kernels::matmul_* loops over the whole batch instead; otherwise
/// torch::bmm. Throws c10::Error on mismatched shapes.
torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b);

/// `a` `[batch, m, k]` · `b` `[batch, n, k]`ᵀ -> `[batch, m, n]`: queries against keys (d2l.ai §11.3 scaled
/// dot-product scores, before the scaling), without materialising the transposed keys. As batched_matmul.
torch::Tensor batched_matmul_nt(const torch::Tensor& a, const torch::Tensor& b);

/// Features of additive (Bahdanau) attention, d2l.ai §11.4: tanh(queries[:, :, None] + keys[:, None]) for
/// `queries` `[batch, num_queries, num_hiddens]` and projected `keys` `[batch, num_keys, num_hiddens]` ->
/// `[batch, num_queries, num_keys, num_hiddens]`, differentiable. When ops::use_fused, one loop
/// (kernels::additive_tanh, absolute error below 3e-7) instead of LibTorch's broadcast add and its tanh;
/// otherwise those. Throws c10::Error on mismatched shapes.
torch::Tensor additive_features(const torch::Tensor& queries, const torch::Tensor& keys);

/// Softmax over the last axis of `scale` · `scores` (`scores` `[batch, queries, keys]`) where key positions at or
/// past the valid length get weight exactly 0 (d2l.ai §11.3 `masked_softmax`: masked scores are set to −1e6
/// before the softmax, so a row with length 0 is uniform). `valid_lens` (any integer type): undefined (no mask),
/// `[batch / group]` (same length for every query) or `[batch / group, queries]`; with `group` > 1, scores row
/// b·group + g uses length row b (the heads of multi-head attention, without repeating the lengths). When
/// ops::use_fused, one autograd function runs the scaling, the mask and the softmax in one pass per row and its
/// backward in another (kernels::masked_softmax_rows); otherwise LibTorch's ops (d2l's −1e6 fill), in float32
/// for bf16/fp16 scores (mixed precision), which also return float32 weights. Throws
/// c10::Error on shapes that do not match or a `group` that does not divide the batch.
torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& valid_lens, double scale = 1.0,
                             int64_t group = 1);

/// Boolean mask `[batch, steps]`, true where the position is below `valid_lens` `[batch]` (d2l `sequence_mask`).
torch::Tensor sequence_mask(const torch::Tensor& valid_lens, int64_t steps);

}  // namespace nmt::ops
