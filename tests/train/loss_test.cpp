#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include <torch/torch.h>

#include "common/config.h"
#include "models/model_factory.h"
#include "ops/dispatch.h"
#include "ops/loss_ops.h"
#include "train/loss.h"
#include "train/lr_schedule.h"
#include "support/tiny_model.h"

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
  // linear: the same warm-up, then lr · (1 − progress); progress is clamped to [0, 1].
  CHECK_THAT(learning_rate("linear", 1e-3, 100, 50), WithinRel(0.5e-3, 1e-9));
  CHECK_THAT(learning_rate("linear", 1e-3, 100, 50, 0.2), WithinRel(0.4e-3, 1e-9));
  CHECK_THAT(learning_rate("linear", 1e-3, 100, 400, 0.25), WithinRel(0.75e-3, 1e-9));
  CHECK(learning_rate("linear", 1e-3, 100, 400, 1.0) == 0.0);
  CHECK(learning_rate("linear", 1e-3, 100, 400, 1.5) == 0.0);
  CHECK_THAT(learning_rate("linear", 1e-3, 100, 400, -1.0), WithinRel(1e-3, 1e-9));
  CHECK_THAT(learning_rate("inverse_sqrt", 1e-3, 100, 400, 0.9), WithinRel(0.5e-3, 1e-9));  // progress unused
  CHECK_THROWS_AS(learning_rate("cosine", 1e-3, 100, 1), std::invalid_argument);
}

TEST_CASE("fused softmax cross-entropy matches torch's cross_entropy in double precision", "[loss]") {
  namespace F = torch::nn::functional;
  torch::manual_seed(3);
  const double eps = GENERATE(0.0, 0.1);
  const int64_t vocab = GENERATE(1, 7, 16, 1000, 17851);  // below, at and off the kernel's 16-lane blocks
  auto logits = (torch::randn({5, vocab}) * 8).requires_grad_();
  auto labels = torch::randint(0, vocab, {5}, torch::kLong);
  labels[0] = vocab - 1;  // the last column, past the vectorised blocks
  // The reference runs in double: torch's float32 path loses ~1e-5 in its gradient (exp of log-probabilities).
  auto reference_logits = logits.detach().to(torch::kDouble).requires_grad_();
  const auto reference = F::cross_entropy(reference_logits, labels,
                                          F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(eps));
  const auto fused = nmt::ops::softmax_cross_entropy(logits, labels, eps);
  REQUIRE(fused.sizes() == torch::IntArrayRef({5}));
  for (int64_t r = 0; r < 5; ++r)
    CHECK_THAT(fused[r].item<double>(), WithinAbs(reference[r].item<double>(), 2e-5 * (1 + std::abs(reference[r].item<double>()))));
  SECTION("gradient, with a different weight per row") {
    (fused * torch::arange(1, 6, torch::kFloat)).sum().backward();
    (reference * torch::arange(1, 6, torch::kDouble)).sum().backward();
    // The fused kernel stays within 2e-6; LibTorch's float32 path (NMT_FUSED=0) exponentiates float log-probabilities
    // of up to ~60 nats here, so its gradient is off by up to ~2e-4 (times the row weight 5).
    const double tolerance = nmt::ops::fused_enabled() ? 2e-6 : 1e-3;
    CHECK((logits.grad().to(torch::kDouble) - reference_logits.grad()).abs().max().item<double>() < tolerance);
  }
}

TEST_CASE("fused softmax cross-entropy edge cases", "[loss]") {
  SECTION("very negative logits count as e^-87 and stay finite") {
    auto logits = torch::tensor({{0.0f, -1000.0f, -50.0f}});
    const auto l = nmt::ops::softmax_cross_entropy(logits, torch::tensor({2}, torch::kLong));
    CHECK_THAT(l.item<double>(), WithinAbs(50.0, 1e-4));
  }
  SECTION("a NaN or infinite logit makes the loss NaN") {
    auto nan_logits = torch::tensor({{0.0f, std::nanf(""), 1.0f}});
    CHECK(std::isnan(nmt::ops::softmax_cross_entropy(nan_logits, torch::tensor({0}, torch::kLong)).item<double>()));
    auto inf_logits = torch::tensor({{0.0f, INFINITY, 1.0f}});
    CHECK(std::isnan(nmt::ops::softmax_cross_entropy(inf_logits, torch::tensor({0}, torch::kLong)).item<double>()));
  }
  SECTION("labels outside the vocabulary are rejected (the fused path names the label and row)") {
    const auto call = [] {
      return nmt::ops::softmax_cross_entropy(torch::zeros({2, 3}), torch::tensor({0, 3}, torch::kLong));
    };
    CHECK_THROWS_AS(call(), c10::Error);
    if (nmt::ops::fused_enabled()) CHECK_THROWS_WITH(call(), Catch::Contains("label 3 at row 1 is outside [0, 3)"));
  }
  SECTION("double logits take torch's path and agree") {
    auto logits = torch::randn({4, 9}, torch::kDouble);
    auto labels = torch::tensor({0, 8, 3, 3}, torch::kLong);
    auto a = nmt::ops::softmax_cross_entropy(logits, labels, 0.1);
    auto b = nmt::ops::softmax_cross_entropy(logits.to(torch::kFloat), labels, 0.1);
    CHECK((a - b.to(torch::kDouble)).abs().max().item<double>() < 1e-5);
  }
}

TEST_CASE("projected cross-entropy matches the output layer + cross_entropy in double precision", "[loss]") {
  namespace F = torch::nn::functional;
  torch::manual_seed(8);
  const double eps = GENERATE(0.0, 0.1);
  const int64_t vocab = GENERATE(1, 17, 1000);
  const int64_t rows = 6, hiddens = 5;
  auto features = torch::randn({rows, hiddens}).requires_grad_();
  auto weight = torch::randn({vocab, hiddens}).requires_grad_();
  auto bias = torch::randn({vocab}).requires_grad_();
  const auto labels = torch::randint(0, vocab, {rows}, torch::kLong);
  const auto g = torch::rand({rows}) + 0.5;  // a different incoming gradient per row
  const auto loss = nmt::ops::projected_cross_entropy(features, weight, bias, labels, eps);
  (loss * g).sum().backward();
  auto fd = features.detach().to(torch::kDouble).requires_grad_();
  auto wd = weight.detach().to(torch::kDouble).requires_grad_();
  auto bd = bias.detach().to(torch::kDouble).requires_grad_();
  const auto reference = F::cross_entropy(F::linear(fd, wd, bd), labels,
                                          F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(eps));
  (reference * g.to(torch::kDouble)).sum().backward();
  CHECK(torch::allclose(loss.to(torch::kDouble), reference.detach(), 1e-5, 1e-5));
  CHECK(torch::allclose(features.grad().to(torch::kDouble), fd.grad(), 1e-4, 1e-5));
  CHECK(torch::allclose(weight.grad().to(torch::kDouble), wd.grad(), 1e-4, 1e-5));
  CHECK(torch::allclose(bias.grad().to(torch::kDouble), bd.grad(), 1e-4, 1e-5));
  SECTION("no rows: zero loss and zero gradients") {
    const auto none = nmt::ops::projected_cross_entropy(features.narrow(0, 0, 0), weight, bias,
                                                        labels.narrow(0, 0, 0), eps);
    CHECK(none.size(0) == 0);
    weight.mutable_grad().zero_();
    none.sum().backward();
    CHECK(weight.grad().abs().sum().item<double>() == 0.0);
  }
  SECTION("bad shapes and labels throw") {
    CHECK_THROWS(nmt::ops::projected_cross_entropy(features, weight.narrow(1, 0, 4), bias, labels));
    CHECK_THROWS(nmt::ops::projected_cross_entropy(features, weight, bias, labels.narrow(0, 0, 3)));
    const auto out_of_range = torch::full({rows}, vocab, torch::kLong);
    CHECK_THROWS_AS(nmt::ops::projected_cross_entropy(features, weight, bias, out_of_range), c10::Error);
    if (nmt::ops::fused_enabled())  // LibTorch's own message otherwise ("Target ... is out of bounds")
      CHECK_THROWS_WITH(nmt::ops::projected_cross_entropy(features, weight, bias, out_of_range),
                        Catch::Contains("outside [0, " + std::to_string(vocab) + ")"));
  }
}

TEST_CASE("loss from decoder features projects only valid positions and equals the loss from logits", "[loss]") {
  auto c = nmt::test::tiny_model_config(GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer"));
  c.dropout = 0.0;
  torch::manual_seed(5);
  auto model = nmt::models::make_model(c, 11, 13);
  const auto src = torch::randint(1, 11, {3, 5}, torch::kLong), tgt = torch::randint(1, 13, {3, 4}, torch::kLong);
  const auto src_lens = torch::tensor({5, 2, 1}, torch::kLong), tgt_lens = torch::tensor({4, 1, 3}, torch::kLong);
  const auto features = model->forward_features(src, src_lens, tgt);
  REQUIRE(features.sizes() == torch::IntArrayRef({3, 4, 16}));
  const auto from_features = nmt::train::masked_cross_entropy(*model, features, tgt, tgt_lens, 0.1);
  CHECK(from_features.num_tokens.item<double>() == 8.0);
  const auto from_logits = nmt::train::masked_cross_entropy(model->forward(src, src_lens, tgt), tgt, tgt_lens, 0.1);
  CHECK_THAT(from_features.sum.item<double>(), WithinRel(from_logits.sum.item<double>(), 1e-5));
  SECTION("valid_positions lists b*steps + t for t < valid_len") {
    const auto rows = nmt::train::valid_positions(tgt_lens, 4);
    CHECK(rows.equal(torch::tensor({0, 1, 2, 3, 4, 8, 9, 10}, torch::kLong)));
  }
  SECTION("the gradient reaches every parameter") {
    from_features.mean().backward();
    for (const auto& p : model->named_parameters()) {
      INFO(p.key());
      REQUIRE(p.value().grad().defined());
    }
  }
}

TEST_CASE("loss and gradients from decoder features equal an independent LibTorch reference that masks afterwards",
          "[loss]") {
  // The reference is d2l's MaskedSoftmaxCELoss written out in LibTorch ops: the output layer on every position,
  // log_softmax, the label-smoothed negative log-likelihood per position, multiplied by the mask and averaged over
  // the valid tokens; the output layer, softmax and loss in double. Gradients are compared for every parameter.
  const std::string type = GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer");
  const double eps = GENERATE(0.0, 0.1);
  INFO(type << ", label smoothing " << eps);
  auto c = nmt::test::tiny_model_config(type);
  c.dropout = 0.0;
  torch::manual_seed(9);
  const int64_t src_vocab = 11, tgt_vocab = 13;
  auto model = nmt::models::make_model(c, src_vocab, tgt_vocab);
  const auto src = torch::randint(1, src_vocab, {3, 5}, torch::kLong);
  const auto tgt = torch::randint(1, tgt_vocab, {3, 4}, torch::kLong);
  const auto src_lens = torch::tensor({5, 2, 1}, torch::kLong), tgt_lens = torch::tensor({4, 1, 3}, torch::kLong);

  auto gradients = [&] {
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : model->named_parameters())
      out[p.key()] = p.value().grad().defined() ? p.value().grad().to(torch::kDouble).clone()
                                                : torch::zeros_like(p.value(), torch::kDouble);
    model->zero_grad();
    return out;
  };

  model->zero_grad();
  const auto ours = nmt::train::masked_cross_entropy(*model, model->forward_features(src, src_lens, tgt), tgt,
                                                     tgt_lens, eps);
  ours.mean().backward();
  const double our_loss = ours.mean().item<double>();
  const auto our_grads = gradients();

  const auto features = model->forward_features(src, src_lens, tgt).to(torch::kDouble);  // [3, 4, 16]
  const auto [weight, bias] = model->output_layer();
  const auto logits = torch::matmul(features, weight.to(torch::kDouble).t()) + bias.to(torch::kDouble);  // [3, 4, V]
  const auto log_probs = torch::log_softmax(logits, -1);
  const auto nll = -log_probs.gather(-1, tgt.unsqueeze(-1)).squeeze(-1);       // [3, 4]
  const auto smoothed = (1.0 - eps) * nll - eps * log_probs.mean(-1);          // [3, 4]
  const auto mask = (torch::arange(4).unsqueeze(0) < tgt_lens.unsqueeze(1)).to(torch::kDouble);  // [3, 4]
  const auto reference = (smoothed * mask).sum() / mask.sum();
  reference.backward();
  const auto ref_grads = gradients();

  CHECK(ours.num_tokens.item<double>() == 8.0);
  CHECK_THAT(our_loss, WithinRel(reference.item<double>(), 1e-5));
  REQUIRE(our_grads.size() == ref_grads.size());
  for (const auto& [name, ref] : ref_grads) {
    INFO(name);
    const auto& got = our_grads.at(name);
    const double scale = std::max(1e-3, ref.abs().max().item<double>());
    CHECK((got - ref).abs().max().item<double>() < 1e-5 * scale);
    CHECK(ref.abs().max().item<double>() > 0.0);  // every parameter gets a gradient from the loss
  }
}
