#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "ops/attention_ops.h"

namespace {

/// d2l's masked_softmax in double: scale, fill positions at or past the length with -1e6, softmax.
torch::Tensor reference(const torch::Tensor& scores, const torch::Tensor& row_lens, double scale) {
  auto scaled = scores.to(torch::kDouble) * scale;
  if (!row_lens.defined()) return torch::softmax(scaled, -1);
  auto positions = torch::arange(scores.size(2), torch::kLong).view({1, 1, -1});
  return torch::softmax(scaled.masked_fill(positions >= row_lens.unsqueeze(-1), -1e6), -1);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("masked_softmax with scale and head groups matches d2l's masked softmax, values and gradients",
          "[models][attention]") {
  torch::manual_seed(21);
  const int64_t group = GENERATE(1, 3);
  const int64_t lens_batch = 4, queries = 5, keys = 7, batch = lens_batch * group;
  const double scale = GENERATE(1.0, 0.125);
  // Lengths 0 (uniform row, no gradient), inside, exactly keys, past keys and negative.
  const auto per_batch = torch::tensor({0, 3, 7, 9}, torch::kLong);
  const auto per_query = torch::tensor({{1, 2, 3, 4, 5}, {0, 7, 8, -1, 6}, {7, 7, 7, 7, 7}, {2, 2, 0, 2, 2}}, torch::kLong);
  const bool by_query = GENERATE(false, true);
  const auto lens = by_query ? per_query : per_batch;
  // Lengths per scores row: row b·group + g reads lens[b].
  const auto row_lens = (by_query ? lens : lens.unsqueeze(1).expand({lens_batch, queries}))
                            .repeat_interleave(group, 0);  // [batch, queries]
  auto scores = (torch::randn({batch, queries, keys}) * 4).requires_grad_();
  auto ref_scores = scores.detach().to(torch::kDouble).requires_grad_();
  const auto upstream = torch::randn({batch, queries, keys});

  const auto out = nmt::ops::masked_softmax(scores, lens, scale, group);
  const auto ref = reference(ref_scores, row_lens, scale);
  REQUIRE(out.sizes() == torch::IntArrayRef({batch, queries, keys}));
  CHECK(max_diff(out, ref) < 1e-6);
  // Masked positions are exactly 0; rows of length 0 are exactly uniform.
  auto positions = torch::arange(keys, torch::kLong).view({1, 1, -1});
  auto masked = (positions >= row_lens.unsqueeze(-1)) & (row_lens.unsqueeze(-1) > 0);
  CHECK(out.detach().masked_select(masked).abs().max().item<float>() == 0.0f);
  auto empty_rows = (row_lens <= 0).unsqueeze(-1).expand({batch, queries, keys});
  CHECK(torch::equal(out.detach().masked_select(empty_rows),
                     torch::full({empty_rows.sum().item<int64_t>()}, 1.0f / keys)));

  (out * upstream).sum().backward();
  (ref * upstream.to(torch::kDouble)).sum().backward();
  CHECK(max_diff(scores.grad(), ref_scores.grad()) < 1e-5);
  CHECK(scores.grad().abs().max().item<double>() > 0.0);

  SECTION("no lengths: a plain softmax of the scaled scores") {
    CHECK(max_diff(nmt::ops::masked_softmax(scores.detach(), {}, scale, group),
                   reference(scores.detach(), {}, scale)) < 1e-6);
  }
  SECTION("shapes that do not match are errors") {
    CHECK_THROWS_AS(nmt::ops::masked_softmax(scores.detach(), torch::ones({batch + 1}, torch::kLong), scale, group),
                    c10::Error);
    CHECK_THROWS_AS(nmt::ops::masked_softmax(scores.detach(), lens, scale, 5), c10::Error);
  }
}
