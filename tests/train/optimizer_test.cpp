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
  CHECK(max_diff(fused_params, torch_params) < 1e-5);
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
    CHECK(max_diff(fused_params, torch_params) < 1e-5);
  }
  SECTION("max_norm must be positive") {
    CHECK_THROWS_AS(fused.clip_grad_norm(0.0), std::invalid_argument);
  }
}

TEST_CASE("FusedAdam with amsgrad takes LibTorch's clipping and update", "[optimizer]") {
  auto fused_params = make_params(), torch_params = make_params();
  const auto options = torch::optim::AdamOptions(0.01).amsgrad(true);
  nmt::train::FusedAdam fused(fused_params, options);
  torch::optim::Adam reference(torch_params, options);
  for (int step = 0; step < 3; ++step) {
    set_grads(fused_params, step);
    set_grads(torch_params, step);
    CHECK_THAT(fused.clip_grad_norm(1.0), WithinRel(torch::nn::utils::clip_grad_norm_(torch_params, 1.0), 1e-6));
    // LibTorch's clipping scales the gradients in place on this path.
    CHECK(max_diff({fused_params[0].grad()}, {torch_params[0].grad()}) < 1e-7);
    fused.step();
    reference.step();
  }
  CHECK(max_diff(fused_params, torch_params) < 1e-7);
}
