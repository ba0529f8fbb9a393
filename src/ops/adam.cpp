#include "ops/adam.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/blas.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "ops/dispatch.h"

namespace nmt::ops {

namespace {

/// Runs `run(part, i, begin, end)` over every element of the arrays whose lengths are `sizes` (one per
/// parameter): their concatenation is split between the kernel threads (OpenBLAS's, idle between the GEMMs),
/// at least 2^19 elements per thread, and each share visits its pieces of the arrays (elements [begin, end) of
/// array i). The Adam update computes a square root and two divisions per element: one thread took 25 ms for
/// the 15.4M parameters of the 256-wide Transformer here, two 13-14 ms.
template <typename Run>
void over_elements(const std::vector<int64_t>& sizes, const Run& run) {
  int64_t total = 0;
  for (const int64_t size : sizes) total += size;
  auto share = [&](int64_t part, int64_t lo, int64_t hi) {
    int64_t offset = 0;
    for (std::size_t i = 0; i < sizes.size() && offset < hi; offset += sizes[i], ++i) {
      const int64_t begin = std::max(lo, offset), end = std::min(hi, offset + sizes[i]);
      if (begin < end) run(part, i, begin - offset, end - offset);
    }
  };
  kernels::parallel_range(total, common::kernel_threads(), int64_t{1} << 19, share);
}

}  // namespace

bool use_fused_adam(const std::vector<torch::Tensor>& params, bool amsgrad) {
  if (amsgrad || !fused_enabled()) return false;
  for (const auto& p : params) {
    const auto& grad = p.grad();
    if (!grad.defined()) continue;
    if (!use_fused({p, grad}) || !p.is_contiguous() || !grad.is_contiguous()) return false;
  }
  return true;
}

double sum_of_squares(const std::vector<torch::Tensor>& grads) {
  std::vector<const float*> data;
  std::vector<int64_t> sizes;
  for (const auto& g : grads) {
    data.push_back(g.data_ptr<float>());
    sizes.push_back(g.numel());
  }
  // Partial sums per share, added in share order: deterministic for a given thread count.
  std::vector<double> partial(static_cast<std::size_t>(common::kernel_threads()), 0.0);
  over_elements(sizes, [&](int64_t part, std::size_t i, int64_t begin, int64_t end) {
    partial[static_cast<std::size_t>(part)] += kernels::sum_of_squares(data[i] + begin, end - begin);
  });
  double sum_sq = 0.0;
  for (const double s : partial) sum_sq += s;
  return sum_sq;
}

void adam_update(const std::vector<AdamParamUpdate>& updates, float grad_scale) {
  struct Pointers {
    float *param, *exp_avg, *exp_avg_sq;
    const float* grad;
  };
  std::vector<Pointers> pointers;
  std::vector<int64_t> sizes;
  for (const auto& u : updates) {
    pointers.push_back({u.param.data_ptr<float>(), u.exp_avg.data_ptr<float>(), u.exp_avg_sq.data_ptr<float>(),
                        u.grad.data_ptr<float>()});
    sizes.push_back(u.param.numel());
  }
  // Element-wise: the split between threads does not change any result.
  over_elements(sizes, [&](int64_t, std::size_t i, int64_t begin, int64_t end) {
    const AdamParamUpdate& u = updates[i];
    const Pointers& p = pointers[i];
    kernels::adam_update(p.param + begin, p.grad + begin, p.exp_avg + begin, p.exp_avg_sq + begin, end - begin,
                         u.step_size, u.beta1, u.beta2, u.sqrt_bias_correction2, u.eps, grad_scale, u.weight_decay);
  });
}

}  // namespace nmt::ops
