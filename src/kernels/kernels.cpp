// The entry points of kernels.h: each calls the loops of the active instruction-set build (kernel_table.h,
// cpu_isa.h). projected_argmax's set-up (transposing the features, choosing blocks and threads, combining the
// threads' maxima) runs here; its inner loops (argmax_blocks) are per ISA. Built with the loops' flags
// (-O3 -fno-math-errno -fno-trapping-math, CMakeLists.txt).
#include "kernels/kernels.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/parallel.h"

namespace nmt::kernels {

float softmax_cross_entropy_row(const float* logits, const float* bias, float* grad, int64_t n, int64_t label,
                                float label_smoothing) {
  return active_table().softmax_cross_entropy_row(logits, bias, grad, n, label, label_smoothing);
}

void masked_softmax_rows(const float* scores, const int64_t* lens, float* out, int64_t rows, int64_t n, float scale) {
  active_table().masked_softmax_rows(scores, lens, out, rows, n, scale);
}

void masked_softmax_backward_rows(const float* y, const float* grad, const int64_t* lens, float* out, int64_t rows,
                                  int64_t n, float scale) {
  active_table().masked_softmax_backward_rows(y, grad, lens, out, rows, n, scale);
}

void matmul_nn(const float* a, const float* b, float* out, int64_t batch, int64_t m, int64_t k, int64_t n) {
  active_table().matmul_nn(a, b, out, batch, m, k, n);
}

void matmul_nt(const float* a, const float* b, float* out, int64_t batch, int64_t m, int64_t k, int64_t n) {
  active_table().matmul_nt(a, b, out, batch, m, k, n);
}

void matmul_tn(const float* a, const float* b, float* out, int64_t batch, int64_t r, int64_t m, int64_t n) {
  active_table().matmul_tn(a, b, out, batch, r, m, n);
}

void additive_tanh(const float* queries, const float* keys, float* out, int64_t batch, int64_t num_queries,
                   int64_t num_keys, int64_t h) {
  active_table().additive_tanh(queries, keys, out, batch, num_queries, num_keys, h);
}

void adam_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n, float step_size,
                 float beta1, float beta2, float sqrt_bias_correction2, float eps, float grad_scale,
                 float weight_decay) {
  active_table().adam_update(param, grad, exp_avg, exp_avg_sq, n, step_size, beta1, beta2, sqrt_bias_correction2, eps,
                             grad_scale, weight_decay);
}

double sum_of_squares(const float* x, int64_t n) { return active_table().sum_of_squares(x, n); }

void dropout_mask(float* out, int64_t n, uint64_t seed, int64_t offset, float keep) {
  active_table().dropout_mask(out, n, seed, offset, keep);
}

void projected_argmax(const float* features, const float* weight, const float* bias, int64_t rows, int64_t k,
                      int64_t vocab, int64_t* out, int threads) {
  // 16 rows per tile, one row per vector lane: the features are transposed to [k][16] per tile so that one
  // vector holds a column of the tile, and every weight element is broadcast against it. Per vocabulary
  // entry the tile's 16 logits then sit in one vector, and the running maximum and its index per row stay
  // lane-wise: no logits are written, no horizontal reductions. Buffers are plain float/int arrays read and
  // written through an unaligned vector type.
  constexpr int64_t kRows = 16;
  const int64_t tiles = (rows + kRows - 1) / kRows;
  std::vector<float> xt(static_cast<std::size_t>(tiles * k * kRows), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c)
      xt[static_cast<std::size_t>(((r / kRows) * k + c) * kRows + r % kRows)] = features[r * k + c];
  // Vocabulary blocks of about 512 KiB of weights, which stay in L2 while every pair of row tiles passes over
  // them; a pair's transposed features (2 x 16 x k floats, 32 KiB at k = 256) stay in L1 across the block, so
  // per 16 FMAs only the 8 broadcast weights come from L2. (Blocks of 16 KiB in L1, with the features
  // streamed from L2 instead, ran at 115-248 GFLOP/s against 249-299 here: 128 x 256 x 17,850.)
  const int64_t max_block = std::max<int64_t>(8, ((int64_t{1} << 17) / std::max<int64_t>(k, 1)) / 8 * 8);
  // Threads take contiguous runs of blocks, each with its own running maxima (a thread costs tens of µs to
  // start, so below 2^24 multiply-adds one thread does it all).
  const int64_t threads_wanted =
      std::min<int64_t>(std::max(threads, 1), rows * k * vocab >= (int64_t{1} << 24) ? 64 : 1);
  // As many blocks as max_block needs, rounded up to a multiple of the threads, and the vocabulary spread evenly
  // over them (multiples of 8 words), so that every thread gets the same share: at k = 32 the 17,850 words in
  // blocks of 4,096 split 2 : 3 between two threads. The blocking changes no result (each dot product sums
  // over k in order; ties go to the first word). Rounding blocks up to 8 words can leave fewer blocks than
  // threads (vocabularies of a few dozen words); one thread per block then.
  const int64_t wanted = (vocab + max_block - 1) / max_block;
  const int64_t even = (wanted + threads_wanted - 1) / threads_wanted * threads_wanted;
  const int64_t block = std::max<int64_t>(8, ((vocab + even - 1) / even + 7) / 8 * 8);
  const int64_t blocks = (vocab + block - 1) / block;
  const int64_t parts = std::min(threads_wanted, blocks);
  const std::size_t lanes = static_cast<std::size_t>(tiles * kRows);
  std::vector<float> best_value(lanes * static_cast<std::size_t>(parts), -std::numeric_limits<float>::infinity());
  std::vector<int32_t> best_index(lanes * static_cast<std::size_t>(parts), 0);
  const KernelTable& table = active_table();
  auto scan = [&](int64_t part) {
    table.argmax_blocks(xt.data(), weight, bias, tiles, k, vocab, block, blocks * part / parts,
                        blocks * (part + 1) / parts, best_value.data() + lanes * static_cast<std::size_t>(part),
                        best_index.data() + lanes * static_cast<std::size_t>(part));
  };
  parallel_parts(parts, scan);
  for (int64_t r = 0; r < rows; ++r) {
    // Parts in vocabulary order; a later part wins only with a strictly larger maximum (first maximum on ties).
    std::size_t pick = static_cast<std::size_t>(r);
    for (std::size_t i = pick + lanes; i < best_value.size(); i += lanes)
      if (best_value[i] > best_value[pick]) pick = i;
    out[r] = best_index[pick];
  }
}

}  // namespace nmt::kernels
