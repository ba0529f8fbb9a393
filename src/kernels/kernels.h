#pragma once

#include <cstdint>

/// \file
/// Fused float32 CPU loops for the parts of training and decoding that LibTorch 1.13 runs as several
/// memory-bound passes or slow calls: softmax cross-entropy over the target vocabulary, the Adam update, dropout
/// masks, small batched matrix products, Bahdanau's tanh features and greedy search's projection + arg-max.
/// Raw loops over plain arrays (no LibTorch types; the tensor-level wrappers and the choice between these loops
/// and LibTorch live in src/ops/), in the manner of CTranslate2's `src/cpu/kernels.h`. Every loop is built three
/// times (kernels_generic.cpp: baseline x86-64; kernels_avx2.cpp: x86-64-v3 = AVX2+FMA; kernels_avx512.cpp:
/// x86-64-v4 = AVX-512) and each function here calls the build chosen once per process: the best the CPU
/// supports, or the one NMT_CPU_ISA names (kernels/cpu_isa.h). On their first call these functions throw
/// std::invalid_argument when NMT_CPU_ISA is invalid; otherwise they throw nothing (projected_argmax:
/// std::bad_alloc). Callers check shapes, strides and dtypes. Threads: kernels/parallel.h.

namespace nmt::kernels {

/// Softmax cross-entropy of one row of logits with label smoothing, and its gradient, in one call.
///
/// `logits` and `grad` point at `n` floats (`grad` may be `logits` itself: the gradient then replaces the
/// row); `bias`, when not null, at `n` floats added to the logits first (the output layer's bias); `label` is in
/// [0, n); `label_smoothing` ε in [0, 1). Writes `grad[j] = softmax(logits)[j] − ε/n − (1−ε)·[j = label]` (∂loss/∂logits) and returns
/// `loss = logsumexp(logits) − (1−ε)·logits[label] − ε·mean(logits)`, the same quantity as PyTorch's
/// `cross_entropy(..., label_smoothing=ε)` (Szegedy et al. 2016). exp is a Cephes-style polynomial with
/// about 2 ulp relative error; inputs below max − 87 count as e^−87. A NaN or infinite logit makes the
/// loss NaN. Three passes over the row, the last two in cache.
float softmax_cross_entropy_row(const float* logits, const float* bias, float* grad, int64_t n, int64_t label,
                                float label_smoothing);

/// Masked softmax over rows (d2l.ai §11.3 `masked_softmax`, applied to `scale` · scores, as scaled dot-product
/// attention does with scale 1/√d): `rows` rows of `n` floats in `scores` and `out` (row-major, contiguous); with
/// L = `lens[r]` clamped to [0, n] (L = n for every row when `lens` is null), `out[j]` = softmax of
/// scale·scores[0..L) at j for j < L, and 0 for j >= L. A row with L = 0 gets 1/n everywhere, as d2l's fill of
/// the masked scores with −1e6 gives. exp as in softmax_cross_entropy_row; a NaN score makes its row NaN.
void masked_softmax_rows(const float* scores, const int64_t* lens, float* out, int64_t rows, int64_t n, float scale);

/// Gradient of masked_softmax_rows with respect to its scores, from its output `y` and the incoming gradient
/// `grad` (same layout): `out[j]` = scale · y[j] · (grad[j] − Σ_k grad[k] · y[k]) for j < L, 0 for j >= L, and 0
/// on rows with L = 0 (their scores were replaced by a constant). `out` may be `grad`.
void masked_softmax_backward_rows(const float* y, const float* grad, const int64_t* lens, float* out, int64_t rows,
                                  int64_t n, float scale);

/// Small batched matrix products for attention (a few tens of rows and columns per matrix, hundreds of
/// matrices), where one BLAS call per matrix costs more than the arithmetic. Row-major, contiguous, batch
/// `batch`; `out` is overwritten. Products of `batch` pairs:
///  - matmul_nn: out[m×n] = a[m×k] · b[k×n]
///  - matmul_nt: out[m×n] = a[m×k] · b[n×k]ᵀ (dot products of rows; sums in 16 lanes, then across them)
///  - matmul_tn: out[m×n] = a[r×m]ᵀ · b[r×n]
void matmul_nn(const float* a, const float* b, float* out, int64_t batch, int64_t m, int64_t k, int64_t n);
void matmul_nt(const float* a, const float* b, float* out, int64_t batch, int64_t m, int64_t k, int64_t n);
void matmul_tn(const float* a, const float* b, float* out, int64_t batch, int64_t r, int64_t m, int64_t n);

/// Greedy choice over a vocabulary without writing the logits: out[r] = argmax_v (features[r] · weight[v] + bias[v])
/// for r < `rows`, the first maximum on ties (as LibTorch's argmax; NaN logits are skipped, a row whose logits
/// are all NaN gets 0). `features` `[rows, k]`, `weight` `[vocab, k]` (an nn::Linear weight), `bias` `[vocab]`,
/// `out` `[rows]`; row-major, contiguous, `vocab` >= 1. Each dot product sums over k in order, as a GEMM
/// micro-kernel does, so a row's choice does not depend on the other rows in the batch. Register tiles of
/// 32 rows × 8 vocabulary entries (16 × 8 for an odd last tile of 16 rows) over vocabulary blocks of about
/// 512 KiB of weights that stay in L2;
/// up to `threads` threads split the vocabulary when there are at least 2^24 multiply-adds (parallel_parts).
void projected_argmax(const float* features, const float* weight, const float* bias, int64_t rows, int64_t k,
                      int64_t vocab, int64_t* out, int threads = 1);

/// Bahdanau attention's features (d2l.ai §11.4): out[b,i,j,:] = tanh(queries[b,i,:] + keys[b,j,:]) for
/// `queries` `[batch, num_queries, h]`, `keys` `[batch, num_keys, h]`, `out` `[batch, num_queries, num_keys, h]`;
/// row-major, contiguous. The broadcast sum is never stored. tanh from exp_nonpositive (as the loss):
/// absolute error below 3e-7 against the exact value; NaN stays NaN, ±inf gives ±1. (LibTorch 1.13's
/// vectorised tanh, Sleef's, takes 5x its exp's time here: 0.92 ms for 128 × 10 × 256 floats, timed through
/// Debian's python3-torch.)
void additive_tanh(const float* queries, const float* keys, float* out, int64_t batch, int64_t num_queries,
                   int64_t num_keys, int64_t h);

/// One Adam step (Kingma & Ba 2015, as torch::optim::Adam without amsgrad) over `n` parameters:
/// g = grad_scale·grad + weight_decay·param; exp_avg = β1·exp_avg + (1−β1)·g;
/// exp_avg_sq = β2·exp_avg_sq + (1−β2)·g²; param −= step_size · exp_avg / (√exp_avg_sq / sqrt_bias_correction2 + eps)
/// with step_size = lr / (1 − β1^t) and sqrt_bias_correction2 = √(1 − β2^t). One pass over the four arrays.
void adam_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n, float step_size,
                 float beta1, float beta2, float sqrt_bias_correction2, float eps, float grad_scale,
                 float weight_decay);

/// Sum of squares of `n` floats, accumulated in double per lane (for gradient-norm clipping).
double sum_of_squares(const float* x, int64_t n);

/// Inverted-dropout mask: `out[i]` = `1/keep` with probability `keep`, else 0, for `i` < `n`. Bits come from
/// a counter-based hash of (`seed`, `offset + i`) (two rounds of Wellons' lowbias32), so a mask depends only
/// on the seed and the element index, not on threads or SIMD width. `keep` in (0, 1].
void dropout_mask(float* out, int64_t n, uint64_t seed, int64_t offset, float keep);

}  // namespace nmt::kernels
