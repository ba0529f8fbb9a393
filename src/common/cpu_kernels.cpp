// Built with -O3 -fno-math-errno -fno-trapping-math (CMakeLists.txt). Reductions use kLanes independent
// accumulators, which the compiler vectorises without reassociating floating-point sums (no -ffast-math).
#include "common/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NMT_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define NMT_CLONES
#endif

namespace nmt::common::kernels {

void parallel_parts(int64_t parts, const std::function<void(int64_t)>& part) {
  std::vector<std::thread> helpers;
  for (int64_t i = 1; i < parts; ++i) {
    try {
      helpers.emplace_back(part, i);
    } catch (const std::system_error&) {
      part(i);  // no thread to be had: this one does the part
    }
  }
  if (parts > 0) part(0);
  for (auto& helper : helpers) helper.join();
}

void parallel_range(int64_t n, int threads, int64_t grain,
                    const std::function<void(int64_t part, int64_t begin, int64_t end)>& range) {
  if (n <= 0) return;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n / std::max<int64_t>(grain, 1)));
  parallel_parts(parts, [&](int64_t part) { range(part, n * part / parts, n * (part + 1) / parts); });
}

namespace {

constexpr int kLanes = 16;

/// e^x for x <= 0 (or NaN), Cephes `expf` polynomial on r = x − k·ln2, |r| <= ln2/2, times 2^k built in the
/// exponent bits. k is rounded with the 1.5·2^23 trick, which leaves k + 0x4B400000 in the float's bits.
inline __attribute__((always_inline)) float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float k = shifted - 12582912.0f;
  float r = x - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.0f;
  const uint32_t bits = __builtin_bit_cast(uint32_t, shifted);
  const uint32_t pow2 = (bits + (127u - 0x4B400000u)) << 23;
  return y * __builtin_bit_cast(float, pow2);
}

/// tanh(x) = sign(x) · (1 − e^(−2|x|)) / (1 + e^(−2|x|)), with exp_nonpositive; NaN stays NaN, ±inf gives ±1.
inline __attribute__((always_inline)) float tanh_via_exp(float x) {
  const float magnitude = x < 0.0f ? -x : x;
  const float e = exp_nonpositive(-2.0f * magnitude);
  const float t = (1.0f - e) / (1.0f + e);
  return x < 0.0f ? -t : t;
}

/// y[j] += s · x[j] for j < n (the inner loop of the small matrix products).
inline __attribute__((always_inline)) void axpy(float* __restrict y, float s, const float* __restrict x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += s * x[j];
}

/// Wellons' lowbias32 integer hash.
inline __attribute__((always_inline)) uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/// Pass 1 of softmax_cross_entropy_row: maximum and sum of x[j] = logits[j] (+ bias[j], then also stored in
/// grad[j]) over the row.
template <bool kBias>
inline __attribute__((always_inline)) void max_and_sum(const float* logits, const float* bias, float* grad, int64_t n,
                                                       float& max, float& sum) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float lane_max[kLanes], lane_sum[kLanes];
  for (int k = 0; k < kLanes; ++k) lane_max[k] = kNegInf, lane_sum[k] = 0.0f;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) {
      float v = logits[j + k];
      if constexpr (kBias) v += bias[j + k], grad[j + k] = v;
      lane_max[k] = v > lane_max[k] ? v : lane_max[k];
      lane_sum[k] += v;
    }
  max = kNegInf, sum = 0.0f;
  for (int k = 0; k < kLanes; ++k) max = lane_max[k] > max ? lane_max[k] : max, sum += lane_sum[k];
  for (; j < n; ++j) {
    float v = logits[j];
    if constexpr (kBias) v += bias[j], grad[j] = v;
    max = v > max ? v : max, sum += v;
  }
}

/// Pass 2 of the softmaxes: out[j] = e^(x[j] − max) for j < n (`out` may be `x`); returns Σ_j out[j], summed
/// in kLanes lanes.
inline __attribute__((always_inline)) float exp_and_sum(const float* x, float max, float* out, int64_t n) {
  float lane_exp[kLanes];
  for (int k = 0; k < kLanes; ++k) lane_exp[k] = 0.0f;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) {
      const float e = exp_nonpositive(x[j + k] - max);
      out[j + k] = e;
      lane_exp[k] += e;
    }
  float sum = 0.0f;
  for (int k = 0; k < kLanes; ++k) sum += lane_exp[k];
  for (; j < n; ++j) {
    const float e = exp_nonpositive(x[j] - max);
    out[j] = e;
    sum += e;
  }
  return sum;
}

/// Number of valid keys of row `r` for the masked softmax: `lens[r]` clamped to [0, n], n without `lens`.
inline int64_t valid_length(const int64_t* lens, int64_t r, int64_t n) {
  return lens == nullptr ? n : std::min<int64_t>(std::max<int64_t>(lens[r], 0), n);
}

/// out[i×n] = Σ_q A(i, q) · b[q×n] per batch entry, where A(i, q) = a[i·stride_i + q·stride_q] (an m × k matrix
/// read row-major or transposed); sums over q in order. matmul_nn and matmul_tn.
inline __attribute__((always_inline)) void matmul_rows(const float* a, const float* b, float* out, int64_t batch,
                                                       int64_t m, int64_t k, int64_t n, int64_t stride_i,
                                                       int64_t stride_q) {
  for (int64_t p = 0; p < batch; ++p) {
    const float* ap = a + p * m * k;
    const float* bp = b + p * k * n;
    float* op = out + p * m * n;
    for (int64_t e = 0; e < m * n; ++e) op[e] = 0.0f;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t q = 0; q < k; ++q) axpy(op + i * n, ap[i * stride_i + q * stride_q], bp + q * n, n);
  }
}

}  // namespace

NMT_CLONES
float softmax_cross_entropy_row(const float* logits, const float* bias, float* grad, int64_t n, int64_t label,
                                float label_smoothing) {
  // Pass 1: maximum and sum of the (biased) logits; with a bias, the biased row is kept in grad and read from
  // there (grad may be the logits' own row).
  float max, sum;
  if (bias != nullptr) {
    max_and_sum<true>(logits, bias, grad, n, max, sum);
    logits = grad;
  } else {
    max_and_sum<false>(logits, nullptr, grad, n, max, sum);
  }
  const float label_logit = logits[label];  // read before pass 2 overwrites an aliased row
  // A NaN never wins a comparison but does reach the sum; +inf - inf below gives NaN too.
  if (std::isnan(sum)) max = sum;
  // Pass 2: e^(x - max) into grad, and its sum.
  const float sum_exp = exp_and_sum(logits, max, grad, n);
  // Pass 3: softmax minus the smoothed target.
  const float inv = 1.0f / sum_exp;
  const float uniform = label_smoothing / static_cast<float>(n);
  for (int64_t j = 0; j < n; ++j) grad[j] = grad[j] * inv - uniform;
  grad[label] -= 1.0f - label_smoothing;
  const float log_sum_exp = max + std::log(sum_exp);
  return log_sum_exp - (1.0f - label_smoothing) * label_logit - uniform * sum;
}

NMT_CLONES
void masked_softmax_rows(const float* scores, const int64_t* lens, float* out, int64_t rows, int64_t n, float scale) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = scores + r * n;
    float* y = out + r * n;
    const int64_t valid = valid_length(lens, r, n);
    if (valid == 0) {
      for (int64_t j = 0; j < n; ++j) y[j] = 1.0f / static_cast<float>(n);
      continue;
    }
    // The loss's passes on the scaled scores: maximum (a NaN reaches only the sum), then exp and its sum.
    for (int64_t j = 0; j < valid; ++j) y[j] = scale * x[j];
    float max, sum;
    max_and_sum<false>(y, nullptr, nullptr, valid, max, sum);
    if (std::isnan(sum)) max = sum;
    const float inv = 1.0f / exp_and_sum(y, max, y, valid);
    for (int64_t j = 0; j < valid; ++j) y[j] *= inv;
    for (int64_t j = valid; j < n; ++j) y[j] = 0.0f;
  }
}

NMT_CLONES
void masked_softmax_backward_rows(const float* y, const float* grad, const int64_t* lens, float* out, int64_t rows,
                                  int64_t n, float scale) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * n;
    const float* g = grad + r * n;
    float* o = out + r * n;
    const int64_t valid = valid_length(lens, r, n);
    float dot = 0.0f;
    for (int64_t j = 0; j < valid; ++j) dot += g[j] * yr[j];
    for (int64_t j = 0; j < valid; ++j) o[j] = scale * yr[j] * (g[j] - dot);
    for (int64_t j = valid; j < n; ++j) o[j] = 0.0f;
  }
}

NMT_CLONES
void matmul_nn(const float* a, const float* b, float* out, int64_t batch, int64_t m, int64_t k, int64_t n) {
  matmul_rows(a, b, out, batch, m, k, n, k, 1);
}

NMT_CLONES
void matmul_nt(const float* a, const float* b, float* out, int64_t batch, int64_t m, int64_t k, int64_t n) {
  for (int64_t p = 0; p < batch; ++p) {
    const float* ap = a + p * m * k;
    const float* bp = b + p * n * k;
    float* op = out + p * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const float* x = ap + i * k;
        const float* y = bp + j * k;
        float lane[kLanes];
        for (int l = 0; l < kLanes; ++l) lane[l] = 0.0f;
        int64_t q = 0;
        for (; q + kLanes <= k; q += kLanes)
          for (int l = 0; l < kLanes; ++l) lane[l] += x[q + l] * y[q + l];
        float sum = 0.0f;
        for (int l = 0; l < kLanes; ++l) sum += lane[l];
        for (; q < k; ++q) sum += x[q] * y[q];
        op[i * n + j] = sum;
      }
  }
}

NMT_CLONES
void matmul_tn(const float* a, const float* b, float* out, int64_t batch, int64_t r, int64_t m, int64_t n) {
  matmul_rows(a, b, out, batch, m, r, n, 1, m);
}

namespace {

typedef float Floats16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t Ints16 __attribute__((vector_size(64), aligned(4)));

/// Running arg-max over the vocabulary entries [v0, v1) for kTiles tiles of 16 rows (projected_argmax):
/// `xt` holds each tile's features transposed, [tile][k][16]; `best`/`index` each tile's 16 running maxima
/// and their word ids. Register block: kTiles × kUnroll accumulators (16 as called: 2 tiles × 8 words, so that
/// per step over k, 2 loaded columns meet 8 broadcast weights in 16 FMAs, enough independent sums to cover
/// the FMA latency on two ports).
template <int64_t kTiles, int64_t kUnroll>
inline __attribute__((always_inline)) void argmax_tiles(const float* xt, const float* weight, const float* bias,
                                                        int64_t k, int64_t v0, int64_t v1, Floats16* best,
                                                        Ints16* index) {
  const Floats16* x = reinterpret_cast<const Floats16*>(xt);
  Floats16 top[kTiles];
  Ints16 at[kTiles];
  for (int64_t t = 0; t < kTiles; ++t) top[t] = best[t], at[t] = index[t];
  auto update = [&](int64_t t, const Floats16& logits, int64_t v) {
    const Ints16 better = logits > top[t];  // NaN compares false: skipped
    top[t] = better ? logits : top[t];
    at[t] = better ? (Ints16{} + static_cast<int32_t>(v)) : at[t];
  };
  int64_t v = v0;
  for (; v + kUnroll <= v1; v += kUnroll) {
    Floats16 acc[kTiles][kUnroll] = {};
    const float* w = weight + v * k;
    for (int64_t c = 0; c < k; ++c)
      for (int64_t t = 0; t < kTiles; ++t) {
        const Floats16 column = x[t * k + c];
        for (int64_t j = 0; j < kUnroll; ++j) acc[t][j] += column * w[j * k + c];
      }
    for (int64_t t = 0; t < kTiles; ++t)
      for (int64_t j = 0; j < kUnroll; ++j) update(t, acc[t][j] + bias[v + j], v + j);
  }
  for (; v < v1; ++v)
    for (int64_t t = 0; t < kTiles; ++t) {
      Floats16 acc = {};
      for (int64_t c = 0; c < k; ++c) acc += x[t * k + c] * weight[v * k + c];
      update(t, acc + bias[v], v);
    }
  for (int64_t t = 0; t < kTiles; ++t) best[t] = top[t], index[t] = at[t];
}

/// One thread's share of projected_argmax: vocabulary blocks [first_block, last_block) of `block` entries,
/// running maxima of all tiles in `best`/`index` (`tiles` × 16 lanes each).
NMT_CLONES
void argmax_blocks(const float* xt, const float* weight, const float* bias, int64_t tiles, int64_t k, int64_t vocab,
                   int64_t block, int64_t first_block, int64_t last_block, float* best, int32_t* index) {
  constexpr int64_t kRows = 16;
  Floats16* top = reinterpret_cast<Floats16*>(best);
  Ints16* at = reinterpret_cast<Ints16*>(index);
  for (int64_t b = first_block; b < last_block; ++b) {
    const int64_t v0 = b * block, v1 = std::min(vocab, v0 + block);
    int64_t t = 0;
    for (; t + 2 <= tiles; t += 2) argmax_tiles<2, 8>(xt + t * k * kRows, weight, bias, k, v0, v1, top + t, at + t);
    if (t < tiles) argmax_tiles<1, 8>(xt + t * k * kRows, weight, bias, k, v0, v1, top + t, at + t);
  }
}

}  // namespace

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
  auto scan = [&](int64_t part) {
    argmax_blocks(xt.data(), weight, bias, tiles, k, vocab, block, blocks * part / parts, blocks * (part + 1) / parts,
                  best_value.data() + lanes * static_cast<std::size_t>(part),
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

NMT_CLONES
void additive_tanh(const float* queries, const float* keys, float* out, int64_t batch, int64_t num_queries,
                   int64_t num_keys, int64_t h) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < num_queries; ++i) {
      const float* q = queries + (b * num_queries + i) * h;
      for (int64_t j = 0; j < num_keys; ++j) {
        const float* k = keys + (b * num_keys + j) * h;
        float* o = out + ((b * num_queries + i) * num_keys + j) * h;
        for (int64_t t = 0; t < h; ++t) o[t] = tanh_via_exp(q[t] + k[t]);
      }
    }
}

NMT_CLONES
void adam_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n, float step_size,
                 float beta1, float beta2, float sqrt_bias_correction2, float eps, float grad_scale,
                 float weight_decay) {
  const float one_minus_beta1 = 1.0f - beta1, one_minus_beta2 = 1.0f - beta2;
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * grad_scale + weight_decay * param[i];
    const float m = beta1 * exp_avg[i] + one_minus_beta1 * g;
    const float v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] -= step_size * m / (std::sqrt(v) / sqrt_bias_correction2 + eps);
  }
}

NMT_CLONES
double sum_of_squares(const float* x, int64_t n) {
  double lane[kLanes];
  for (int k = 0; k < kLanes; ++k) lane[k] = 0.0;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lane[k] += static_cast<double>(x[i + k]) * static_cast<double>(x[i + k]);
  double total = 0.0;
  for (int k = 0; k < kLanes; ++k) total += lane[k];
  for (; i < n; ++i) total += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return total;
}

NMT_CLONES
void dropout_mask(float* out, int64_t n, uint64_t seed, int64_t offset, float keep) {
  const uint32_t seed_lo = static_cast<uint32_t>(seed), seed_hi = static_cast<uint32_t>(seed >> 32);
  // keep with probability `keep`: the top 24 bits of the hash, uniform in [0, 2^24), below keep·2^24.
  const uint32_t threshold = static_cast<uint32_t>(static_cast<double>(keep) * 16777216.0);
  const float scale = 1.0f / keep;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t h = lowbias32(lowbias32(static_cast<uint32_t>(offset + i) ^ seed_lo) + seed_hi);
    out[i] = (h >> 8) < threshold ? scale : 0.0f;
  }
}

}  // namespace nmt::common::kernels
