#include "train/ema.h"

#include <catch2/catch.hpp>

#include <stdexcept>

#include <torch/torch.h>

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using nmt::train::ema_factor;

TEST_CASE("ema_factor follows Marian's warm-up max(decay, 1 - (t+1)/(t+10))", "[train][ema]") {
  CHECK_THAT(ema_factor(1e-4, 1), WithinAbs(0.9, 1e-15));        // t = 0: 1 - 1/10
  CHECK_THAT(ema_factor(1e-4, 91), WithinAbs(0.09, 1e-15));      // 1 - 91/100
  CHECK_THAT(ema_factor(0.5, 20), WithinAbs(0.5, 0));            // 1 - 20/29 < 0.5
  CHECK_THAT(ema_factor(1e-4, 1000000), WithinAbs(1e-4, 0));     // 9 / 1000009 < 1e-4
  CHECK_THAT(ema_factor(1e-4, 89991), WithinRel(1e-4, 1e-12));   // 9 / 90000: where the warm-up ends
}

TEST_CASE("ExponentialAverage and ScopedWeights", "[train][ema]") {
  auto p = torch::tensor({1.0f, 2.0f}).requires_grad_();
  auto q = torch::tensor({{4.0f}});
  nmt::train::ExponentialAverage ema({p, q}, 0.5);
  CHECK(torch::equal(ema.values()[0], torch::tensor({1.0f, 2.0f})));  // starts from a copy
  {
    torch::NoGradGuard no_grad;
    p.copy_(torch::tensor({11.0f, 12.0f}));
    q.fill_(14.0f);
  }
  SECTION("update moves towards the parameters by d_t") {
    ema.update({p, q}, 1);  // d = 0.9: 0.1 * 1 + 0.9 * 11 = 10
    CHECK(torch::allclose(ema.values()[0], torch::tensor({10.0f, 11.0f})));
    CHECK(torch::allclose(ema.values()[1], torch::tensor({{13.0f}})));
    ema.update({p, q}, 100);  // d = max(0.5, 1 - 100/109) = 0.5: 0.5 * 10 + 0.5 * 11
    CHECK(torch::allclose(ema.values()[0], torch::tensor({10.5f, 11.5f})));
    CHECK_FALSE(ema.values()[0].requires_grad());
  }
  SECTION("ScopedWeights swaps the average in and the parameters back, bit for bit") {
    ema.update({p, q}, 1);
    const auto before = p.detach().clone();
    {
      const nmt::train::ScopedWeights swapped({p, q}, ema.values());
      CHECK(torch::equal(p, ema.values()[0]));
      CHECK(torch::equal(q, ema.values()[1]));
    }
    CHECK(torch::equal(p, before));
    try {
      const nmt::train::ScopedWeights swapped({p, q}, ema.values());
      throw std::runtime_error("validation failed");
    } catch (const std::runtime_error&) {
    }
    CHECK(torch::equal(p, before));
  }
  SECTION("bad input") {
    CHECK_THROWS_AS(nmt::train::ExponentialAverage({p}, 0.0), std::invalid_argument);
    CHECK_THROWS_AS(nmt::train::ExponentialAverage({p}, 1.0), std::invalid_argument);
    CHECK_THROWS_AS(ema.update({p}, 1), c10::Error);
    CHECK_THROWS_AS(nmt::train::ScopedWeights({p, q}, {q, p}), c10::Error);
  }
}
