#include <catch2/catch.hpp>

#include <stdexcept>

#include <torch/torch.h>

#include "ops/dispatch.h"
#include "ops/dropout_op.h"

TEST_CASE("ops::use_fused: CPU float32 with the fused loops enabled, LibTorch otherwise", "[ops]") {
  SECTION("NMT_FUSED values") {
    CHECK(nmt::ops::parse_fused("1"));
    CHECK(nmt::ops::parse_fused(""));
    CHECK_FALSE(nmt::ops::parse_fused("0"));
    CHECK_THROWS_WITH(nmt::ops::parse_fused("yes"), Catch::Contains("NMT_FUSED=yes"));
    CHECK_THROWS_AS(nmt::ops::parse_fused("00"), std::invalid_argument);
  }
  SECTION("the rule") {
    const auto f = torch::zeros({2, 3}), d = torch::zeros({2, 3}, torch::kDouble);
    {
      nmt::ops::ScopedFused on(true);
      CHECK(nmt::ops::use_fused({f, f.t()}));
      CHECK(nmt::ops::use_fused({f, torch::Tensor()}));  // an absent bias does not count
      CHECK_FALSE(nmt::ops::use_fused({f, d}));
      CHECK_FALSE(nmt::ops::use_fused({f.to_sparse()}));
    }
    {
      nmt::ops::ScopedFused off(false);
      CHECK_FALSE(nmt::ops::fused_enabled());
      CHECK_FALSE(nmt::ops::use_fused({f}));
    }
  }
  SECTION("widen_reduced: bf16 and fp16 become float32, other dtypes pass through as the same tensor") {
    const auto f = torch::tensor({1.5, -2.25}), d = torch::tensor({1.5}, torch::kDouble);
    for (const auto dtype : {torch::kBFloat16, torch::kHalf}) {
      const auto wide = nmt::ops::widen_reduced(f.to(dtype));
      CHECK(wide.scalar_type() == torch::kFloat);
      CHECK(wide.equal(f));  // both values are exact in bf16 and fp16
    }
    CHECK(nmt::ops::widen_reduced(f).is_same(f));
    CHECK(nmt::ops::widen_reduced(d).is_same(d));
  }
  SECTION("switched off, dropout is torch::dropout draw for draw; on, its mask is the counter hash's") {
    const auto x = torch::ones({64, 100});
    torch::manual_seed(5);
    const auto reference = torch::dropout(x, 0.3, true);
    {
      nmt::ops::ScopedFused off(false);
      torch::manual_seed(5);
      CHECK(nmt::ops::dropout(x, 0.3).equal(reference));
    }
    {
      nmt::ops::ScopedFused on(true);
      torch::manual_seed(5);
      CHECK_FALSE(nmt::ops::dropout(x, 0.3).equal(reference));
    }
  }
}
