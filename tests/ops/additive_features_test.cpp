#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <torch/torch.h>

#include "ops/attention_ops.h"

TEST_CASE("additive_features is tanh of the broadcast sum, values and gradients", "[models][attention]") {
  SECTION("against LibTorch in double precision: Bahdanau shapes, a single query, sizes off the vector width") {
    const auto shape = GENERATE(std::vector<int64_t>{4, 10, 10, 32}, std::vector<int64_t>{3, 1, 7, 256},
                                std::vector<int64_t>{2, 5, 3, 17});
    torch::manual_seed(17);
    auto q = (torch::randn({shape[0], shape[1], shape[3]}) * 2).requires_grad_();
    auto k = (torch::randn({shape[0], shape[2], shape[3]}) * 2).requires_grad_();
    const auto weights = torch::randn({shape[0], shape[1], shape[2], shape[3]});
    const auto out = nmt::ops::additive_features(q, k);
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
    CHECK_THROWS(nmt::ops::additive_features(torch::zeros({2, 3, 4}), torch::zeros({2, 5, 3})));
    CHECK_THROWS(nmt::ops::additive_features(torch::zeros({2, 3, 4}), torch::zeros({1, 5, 4})));
  }
}
