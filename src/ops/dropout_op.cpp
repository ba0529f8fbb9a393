#include "ops/dropout_op.h"

#include <mutex>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "common/blas.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "ops/dispatch.h"

namespace nmt::ops {

namespace {

/// 64 random bits from LibTorch's default CPU generator (the one torch::manual_seed seeds).
uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

/// Inverted-dropout mask of `sizes` on CPU float32: each element 1/(1−p) with probability 1−p, else 0.
torch::Tensor dropout_mask(torch::IntArrayRef sizes, double p) {
  auto mask = torch::empty(sizes, torch::kFloat);
  float* out = mask.data_ptr<float>();
  const uint64_t seed = draw_seed();
  const auto keep = static_cast<float>(1.0 - p);
  kernels::parallel_range(mask.numel(), common::kernel_threads(), 1 << 17, [&](int64_t, int64_t begin, int64_t end) {
    kernels::dropout_mask(out + begin, end - begin, seed, begin, keep);
  });
  return mask;
}

}  // namespace

torch::Tensor dropout(const torch::Tensor& x, double p) {
  if (!use_fused({x})) return torch::dropout(x, p, /*train=*/true);
  return x * dropout_mask(x.sizes(), p);
}

}  // namespace nmt::ops
