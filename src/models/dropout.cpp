#include "models/dropout.h"

#include <mutex>
#include <stdexcept>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "common/blas.h"
#include "common/cpu_kernels.h"

namespace nmt::models {

namespace {

/// 64 random bits from LibTorch's default CPU generator (the one torch::manual_seed seeds).
uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

/// Inverted-dropout mask of `sizes` on CPU float32: each element 1/(1−p) with probability 1−p, else 0.
/// `p` in [0, 1) (checked by DropoutImpl).
torch::Tensor dropout_mask(torch::IntArrayRef sizes, double p) {
  auto mask = torch::empty(sizes, torch::kFloat);
  float* out = mask.data_ptr<float>();
  const uint64_t seed = draw_seed();
  const auto keep = static_cast<float>(1.0 - p);
  common::kernels::parallel_range(mask.numel(), common::kernel_threads(), 1 << 17, [&](int64_t, int64_t begin, int64_t end) {
    common::kernels::dropout_mask(out + begin, end - begin, seed, begin, keep);
  });
  return mask;
}

}  // namespace

DropoutImpl::DropoutImpl(double p) : p_(p) {
  if (!(p >= 0.0 && p < 1.0)) throw std::invalid_argument("Dropout: p must be in [0, 1), got " + std::to_string(p));
}

torch::Tensor DropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0.0) return x;
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat) return torch::dropout(x, p_, /*train=*/true);
  return x * dropout_mask(x.sizes(), p_);
}

}  // namespace nmt::models
