#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "models/dropout.h"

using Catch::Matchers::WithinAbs;

TEST_CASE("dropout keeps 1-p of the elements, scaled by 1/(1-p)", "[models][dropout]") {
  const double p = GENERATE(0.1, 0.5);
  nmt::models::Dropout dropout(p);
  dropout->train();
  torch::manual_seed(1);
  const auto x = torch::ones({1000, 100});
  const auto y = dropout->forward(x);
  const auto kept = (y != 0).to(torch::kDouble);
  // 100,000 Bernoulli draws: the standard deviation of the kept fraction is below 0.0016.
  CHECK_THAT(kept.mean().item<double>(), WithinAbs(1.0 - p, 0.01));
  CHECK_THAT(y.max().item<double>(), WithinAbs(1.0 / (1.0 - p), 1e-6));
  CHECK(y.min().item<double>() == 0.0);
  // Neighbouring elements are not correlated (the counter hash mixes the index): P(both kept) ~ (1-p)^2.
  const double both = (kept.narrow(1, 0, 99) * kept.narrow(1, 1, 99)).mean().item<double>();
  CHECK_THAT(both, WithinAbs((1.0 - p) * (1.0 - p), 0.01));

  SECTION("the gradient goes through kept elements only") {
    auto input = torch::ones({4, 50}).requires_grad_();
    auto out = dropout->forward(input);
    out.sum().backward();
    CHECK(input.grad().equal(out.detach()));
  }
  SECTION("seeded from torch's generator: same seed, same mask; next draw, new mask") {
    torch::manual_seed(7);
    const auto a = dropout->forward(x);
    const auto b = dropout->forward(x);
    torch::manual_seed(7);
    CHECK(dropout->forward(x).equal(a));
    CHECK_FALSE(a.equal(b));
  }
  SECTION("eval mode and p = 0 are the identity") {
    dropout->eval();
    CHECK(dropout->forward(x).equal(x));
    CHECK(nmt::models::Dropout(0.0)->forward(x).equal(x));
  }
  SECTION("p outside [0, 1) is rejected") {
    CHECK_THROWS_AS(nmt::models::Dropout(1.0), std::invalid_argument);
    CHECK_THROWS_AS(nmt::models::Dropout(-0.1), std::invalid_argument);
  }
}
