#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include <torch/torch.h>

#include "train/optimizer.h"

using Catch::Matchers::WithinRel;

namespace {

/// Two parameters (a matrix and a vector, 37 elements: not a multiple of the kernels' vector width) with
/// fixed values, and gradients for them. `large` adds a 1,100 x 1,000 matrix between them: past the 2^20
/// elements from which clipping and the update split the elements between two threads (2^19 or more each),
/// with the split inside it.
std::vector<torch::Tensor> make_params(bool large = false) {
  torch::manual_seed(11);
  if (large)
    return {torch::randn({5, 7}).requires_grad_(), torch::randn({1100, 1000}).requires_grad_(),
            torch::randn({2}).requires_grad_()};
  return {torch::randn({5, 7}).requires_grad_(), torch::randn({2}).requires_grad_()};
}

void set_grads(std::vector<torch::Tensor>& params, int step) {
  for (std::size_t i = 0; i < params.size(); ++i)
    params[i].mutable_grad() = torch::sin(torch::arange(params[i].numel(), torch::kFloat) * (0.3 + step) + static_cast<double>(i))
                                   .reshape(params[i].sizes()) * 3.0;
}

double max_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, (a[i] - b[i]).abs().max().item<double>());
  return d;
}

}  // namespace

TEST_CASE("FusedAdam follows torch::optim::Adam with clip_grad_norm_", "[optimizer]") {
  const double weight_decay = GENERATE(0.0, 0.01);
  const double max_norm = GENERATE(1.0, 1000.0);  // clipping on / off
  const bool large = GENERATE(false, true);
  auto fused_params = make_params(large), torch_params = make_params(large);
  const auto options = torch::optim::AdamOptions(0.01).weight_decay(weight_decay);
  nmt::train::FusedAdam fused(fused_params, options);
  torch::optim::Adam reference(torch_params, options);
  for (int step = 0; step < 5; ++step) {
    set_grads(fused_params, step);
    set_grads(torch_params, step);
    const double norm = fused.clip_grad_norm(max_norm);
    const double torch_norm = torch::nn::utils::clip_grad_norm_(torch_params, max_norm);
    CHECK_THAT(norm, WithinRel(torch_norm, 1e-5));
    fused.step();
    reference.step();
  }
  // 5 steps of at most lr = 0.01 each. The AVX-512 and AVX2 builds stay within 1e-5 of LibTorch's Adam; the generic
  // build (no FMA contraction) was 2.3e-5 away on the 1.1M-parameter case (NMT_CPU_ISA=generic), hence 5e-5.
  CHECK(max_diff(fused_params, torch_params) < 5e-5);
  CHECK(max_diff(fused_params, make_params(large)) > 0.01);  // it did move

  SECTION("its state saves and loads as LibTorch's Adam state") {
    std::stringstream buffer;
    torch::save(fused, buffer);
    torch::optim::Adam loaded(torch_params, options);
    torch::load(loaded, buffer);
    set_grads(fused_params, 9);
    set_grads(torch_params, 9);
    fused.step();
    loaded.step();
    CHECK(max_diff(fused_params, torch_params) < 5e-5);
  }
  SECTION("max_norm must be positive") {
    CHECK_THROWS_AS(fused.clip_grad_norm(0.0), std::invalid_argument);
  }
}

TEST_CASE("FusedAdam with amsgrad follows a hand computation of AMSGrad with clipping", "[optimizer]") {
  // Reddi et al. 2018 as torch.optim.Adam(amsgrad=True) defines it, computed here in double: after clipping the
  // gradient g to norm 1, m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², v̂ = max(v̂, v),
  // param −= lr/(1−β1^t) · m / (√v̂ / √(1−β2^t) + eps).
  auto params = make_params();
  const double lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  nmt::train::FusedAdam fused(params, torch::optim::AdamOptions(lr).amsgrad(true));
  std::vector<torch::Tensor> p, m, v, v_max;
  for (const auto& x : params) {
    p.push_back(x.detach().to(torch::kDouble).clone());
    m.push_back(torch::zeros_like(p.back()));
    v.push_back(torch::zeros_like(p.back()));
    v_max.push_back(torch::zeros_like(p.back()));
  }
  for (int step = 0; step < 3; ++step) {
    set_grads(params, step);
    double norm_sq = 0;
    for (const auto& x : params) norm_sq += x.grad().to(torch::kDouble).square().sum().item<double>();
    const double norm = std::sqrt(norm_sq), clip = std::min(1.0, 1.0 / (norm + 1e-6));
    std::vector<torch::Tensor> grads;
    for (const auto& x : params) grads.push_back(x.grad().to(torch::kDouble) * clip);
    CHECK_THAT(fused.clip_grad_norm(1.0), WithinRel(norm, 1e-6));
    fused.step();
    const double t = step + 1, bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] = beta1 * m[i] + (1 - beta1) * grads[i];
      v[i] = beta2 * v[i] + (1 - beta2) * grads[i].square();
      v_max[i] = torch::max(v_max[i], v[i]);
      p[i] = p[i] - (lr / bc1) * m[i] / (v_max[i].sqrt() / std::sqrt(bc2) + eps);
    }
    INFO("step " << step);
    CHECK(max_diff(params, p) < 1e-6);
  }
}
