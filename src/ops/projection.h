#pragma once
// The output layer as tensor ops: the projection to the vocabulary, and greedy search's projection + arg-max.

#include <torch/types.h>

namespace nmt::ops {

/// Output layer arithmetic: `features` `[..., num_hiddens]` · `weight` `[vocab, num_hiddens]`ᵀ + `bias` `[vocab]`
/// -> `[..., vocab]`, as torch::nn::functional::linear but computed as one matrix product followed by an
/// in-place bias add: LibTorch 1.13's addmm first copies the broadcast bias into the whole output (2.3 against
/// 1.6 ms for 128 x 17,850 logits here). Differentiable. Throws c10::Error on mismatched shapes.
torch::Tensor vocab_projection(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias);

/// The greedy choice for each row of `features` `[..., num_hiddens]`: argmax over the vocabulary of
/// features · weightᵀ + bias (`weight` `[vocab, num_hiddens]`, `bias` `[vocab]`, an output layer) -> `[...]` int64
/// (the features' shape without the last axis), the first maximum on ties; not differentiable.
/// When ops::use_fused (ops/dispatch.h), one kernel (kernels::projected_argmax) that never writes the
/// `[rows, vocab]` logits, on as many threads as the BLAS uses for the GEMM it replaces (common::kernel_threads);
/// otherwise vocab_projection and argmax (LibTorch). Throws c10::Error on mismatched shapes or an empty vocabulary.
torch::Tensor projected_argmax(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace nmt::ops
