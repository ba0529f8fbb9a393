#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "ops/attention_ops.h"

TEST_CASE("batched_matmul and batched_matmul_nt agree with torch::bmm, values and gradients", "[models][attention]") {
  // (batch, m, k, n): attention shapes (queries x head_dim x keys), a single query, sizes off the 16-lane blocks,
  // and an empty inner dimension.
  const auto shape = GENERATE(std::vector<int64_t>{512, 10, 64, 10}, std::vector<int64_t>{7, 1, 33, 5},
                              std::vector<int64_t>{3, 17, 16, 19}, std::vector<int64_t>{2, 3, 0, 4});
  const int64_t batch = shape[0], m = shape[1], k = shape[2], n = shape[3];
  torch::manual_seed(13);
  auto a = torch::randn({batch, m, k}).requires_grad_();
  auto b = torch::randn({batch, k, n}).requires_grad_();
  auto bt = b.detach().transpose(1, 2).contiguous().requires_grad_();  // [batch, n, k]
  auto a_ref = a.detach().to(torch::kDouble).requires_grad_();
  auto b_ref = b.detach().to(torch::kDouble).requires_grad_();
  const auto weights = torch::randn({batch, m, n});

  const auto ref = torch::bmm(a_ref, b_ref);
  (ref * weights.to(torch::kDouble)).sum().backward();
  auto close = [](const torch::Tensor& x, const torch::Tensor& y) {
    return x.numel() == 0 || (x.to(torch::kDouble) - y).abs().max().item<double>() < 1e-4;
  };
  SECTION("a · b") {
    const auto out = nmt::ops::batched_matmul(a, b);
    REQUIRE(out.sizes() == torch::IntArrayRef({batch, m, n}));
    CHECK(close(out, ref));
    (out * weights).sum().backward();
    CHECK(close(a.grad(), a_ref.grad()));
    CHECK(close(b.grad(), b_ref.grad()));
  }
  SECTION("a · btᵀ") {
    const auto out = nmt::ops::batched_matmul_nt(a, bt);
    REQUIRE(out.sizes() == torch::IntArrayRef({batch, m, n}));
    CHECK(close(out, ref));
    (out * weights).sum().backward();
    CHECK(close(a.grad(), a_ref.grad()));
    CHECK(close(bt.grad(), b_ref.grad().transpose(1, 2)));
  }
  SECTION("non-contiguous inputs") {
    const auto out = nmt::ops::batched_matmul(a.detach().transpose(1, 2).contiguous().transpose(1, 2), b.detach());
    CHECK(close(out, ref.detach()));
  }
}

TEST_CASE("batched_matmul rejects shapes that do not multiply", "[models][attention]") {
  CHECK_THROWS_AS(nmt::ops::batched_matmul(torch::zeros({2, 3, 4}), torch::zeros({2, 5, 6})), c10::Error);
  CHECK_THROWS_AS(nmt::ops::batched_matmul_nt(torch::zeros({2, 3, 4}), torch::zeros({3, 6, 4})), c10::Error);
}
