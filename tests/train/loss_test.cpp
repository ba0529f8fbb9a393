#include <catch2/catch.hpp>

#include <cmath>

#include <torch/torch.h>

#include "train/loss.h"
#include "train/lr_schedule.h"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

TEST_CASE("masked cross-entropy matches a hand computation", "[loss]") {
  // Batch of 2, 3 steps, vocab 2. Logits 0 everywhere except sequence 0, step 0: log-probs of [ln 3, 0].
  auto logits = torch::zeros({2, 3, 2});
  logits[0][0][0] = std::log(3.0);
  auto labels = torch::tensor({{0, 1, 1}, {1, 0, 0}});
  auto valid = torch::tensor({2, 1});
  const auto l = nmt::train::masked_cross_entropy(logits, labels, valid);
  // Valid positions: (0,0): -ln(3/4); (0,1): ln 2; (1,0): ln 2. Masked positions weigh 0.
  const double expected = -std::log(0.75) + 2 * std::log(2.0);
  CHECK_THAT(l.sum.item<double>(), WithinAbs(expected, 1e-6));
  CHECK(l.num_tokens.item<double>() == 3.0);
  CHECK_THAT(l.mean().item<double>(), WithinAbs(expected / 3, 1e-6));
  SECTION("changing a masked position's logits changes nothing") {
    auto other = logits.clone();
    other[1][2][1] = 100.0;
    CHECK(nmt::train::masked_cross_entropy(other, labels, valid).sum.item<double>() == l.sum.item<double>());
  }
  SECTION("label smoothing mixes in the uniform distribution") {
    // With eps, loss = (1-eps)*CE + eps * mean_k(-log p_k); at uniform logits every term is ln 2.
    const auto s = nmt::train::masked_cross_entropy(torch::zeros({1, 1, 2}), torch::tensor({{0}}), torch::tensor({1}), 0.1);
    CHECK_THAT(s.sum.item<double>(), WithinAbs(std::log(2.0), 1e-6));
  }
}

TEST_CASE("learning-rate schedules", "[loss]") {
  using nmt::train::learning_rate;
  CHECK(learning_rate("constant", 0.005, 100, 7) == 0.005);
  CHECK_THAT(learning_rate("inverse_sqrt", 1e-3, 100, 100), WithinRel(1e-3, 1e-9));   // peak at warmup
  CHECK_THAT(learning_rate("inverse_sqrt", 1e-3, 100, 50), WithinRel(0.5e-3, 1e-9));  // linear warm-up
  CHECK_THAT(learning_rate("inverse_sqrt", 1e-3, 100, 400), WithinRel(0.5e-3, 1e-9)); // step^-0.5 decay
  CHECK_THROWS_AS(learning_rate("cosine", 1e-3, 100, 1), std::invalid_argument);
}
