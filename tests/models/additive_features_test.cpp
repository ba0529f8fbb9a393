#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <torch/torch.h>

#include "common/cpu_kernels.h"
#include "models/attention.h"

TEST_CASE("additive_features is tanh of the broadcast sum, values and gradients", "[models][attention]") {
  SECTION("the kernel's tanh within 3e-7 of the exact value, from -20 to 20, and at NaN and infinities") {
    std::vector<float> q;
    for (int i = -200000; i <= 200000; ++i) q.push_back(static_cast<float>(i) * 1e-4f);  // step 1e-4 over [-20, 20]
    for (const float x : {1e-30f, -1e-30f, 0.0f, -0.0f, 1e-7f, 3e-4f, 0.01f, 44.0f, -44.0f, 100.0f})
      q.push_back(x);
    const auto n = static_cast<int64_t>(q.size());
    std::vector<float> zero(q.size(), 0.0f), out(q.size());
    nmt::common::kernels::additive_tanh(q.data(), zero.data(), out.data(), 1, 1, 1, n);
    double worst = 0;
    for (std::size_t i = 0; i < q.size(); ++i)
      worst = std::max(worst, std::abs(static_cast<double>(out[i]) - std::tanh(static_cast<double>(q[i]))));
    CHECK(worst < 3e-7);
    const float special[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity()};
    const float none[3] = {0.0f, 0.0f, 0.0f};
    float special_out[3];
    nmt::common::kernels::additive_tanh(special, none, special_out, 1, 1, 1, 3);
    CHECK(std::isnan(special_out[0]));
    CHECK(special_out[1] == 1.0f);
    CHECK(special_out[2] == -1.0f);
  }
  SECTION("against LibTorch in double precision: Bahdanau shapes, a single query, sizes off the vector width") {
    const auto shape = GENERATE(std::vector<int64_t>{4, 10, 10, 32}, std::vector<int64_t>{3, 1, 7, 256},
                                std::vector<int64_t>{2, 5, 3, 17});
    torch::manual_seed(17);
    auto q = (torch::randn({shape[0], shape[1], shape[3]}) * 2).requires_grad_();
    auto k = (torch::randn({shape[0], shape[2], shape[3]}) * 2).requires_grad_();
    const auto weights = torch::randn({shape[0], shape[1], shape[2], shape[3]});
    const auto out = nmt::models::additive_features(q, k);
    REQUIRE(out.sizes() == torch::IntArrayRef({shape[0], shape[1], shape[2], shape[3]}));
    (out * weights).sum().backward();
    auto qd = q.detach().to(torch::kDouble).requires_grad_();
    auto kd = k.detach().to(torch::kDouble).requires_grad_();
    const auto ref = torch::tanh(qd.unsqueeze(2) + kd.unsqueeze(1));
    (ref * weights.to(torch::kDouble)).sum().backward();
    CHECK((out.to(torch::kDouble) - ref).abs().max().item<double>() < 3e-7);
    CHECK(torch::allclose(q.grad().to(torch::kDouble), qd.grad(), 1e-5, 1e-5));
    CHECK(torch::allclose(k.grad().to(torch::kDouble), kd.grad(), 1e-5, 1e-5));
  }
  SECTION("mismatched shapes throw") {
    CHECK_THROWS(nmt::models::additive_features(torch::zeros({2, 3, 4}), torch::zeros({2, 5, 3})));
    CHECK_THROWS(nmt::models::additive_features(torch::zeros({2, 3, 4}), torch::zeros({1, 5, 4})));
  }
}
