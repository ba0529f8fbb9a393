#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "models/attention.h"
#include "models/gru_seq2seq.h"
#include "models/model_factory.h"
#include "support/tiny_model.h"

using namespace nmt::models;
using nmt::ops::masked_softmax;
using nmt::ops::sequence_mask;
using Catch::Matchers::WithinAbs;

TEST_CASE("masked softmax gives masked positions exactly zero weight", "[attention]") {
  torch::manual_seed(0);
  auto scores = torch::rand({2, 2, 4});
  auto w = masked_softmax(scores, torch::tensor({2, 3}));
  CHECK(w[0].narrow(1, 2, 2).abs().sum().item<float>() == 0.0f);
  CHECK(w[1].narrow(1, 3, 1).abs().sum().item<float>() == 0.0f);
  CHECK_THAT(w.sum(-1).sub(1).abs().max().item<float>(), WithinAbs(0, 1e-6));
  SECTION("per-query valid lengths") {
    auto w2 = masked_softmax(scores, torch::tensor({{1, 3}, {2, 4}}));
    CHECK(w2[0][0].narrow(0, 1, 3).abs().sum().item<float>() == 0.0f);
    CHECK_THAT(w2[0][0][0].item<float>(), WithinAbs(1.0, 1e-6));
    CHECK(w2[1][1].gt(0).all().item<bool>());
  }
  SECTION("sequence_mask") {
    auto m = sequence_mask(torch::tensor({1, 3}), 3);
    CHECK(torch::equal(m, torch::tensor({{true, false, false}, {true, true, true}})));
  }
}

TEST_CASE("GRU encoder-decoder shapes follow d2l", "[models]") {
  const bool attention = GENERATE(false, true);
  GruSeq2SeqOptions o;
  o.src_vocab_size = 10;
  o.tgt_vocab_size = 10;
  o.embed_size = 8;
  o.num_hiddens = 16;
  o.num_layers = 2;
  o.attention = attention;
  GruSeq2SeqImpl model(o);
  model.eval();
  auto X = torch::zeros({4, 7}, torch::kLong);
  auto lens = torch::full({4}, 7, torch::kLong);
  const EncoderOutput enc = model.encode(X, lens);
  CHECK(enc.outputs.sizes() == std::vector<int64_t>{4, 7, 16});
  CHECK(enc.final_state.sizes() == std::vector<int64_t>{2, 4, 16});
  auto state = model.init_state(enc);
  auto out = model.step(X, *state);
  CHECK(out.sizes() == std::vector<int64_t>{4, 7, 10});
  CHECK(dynamic_cast<GruDecoderState&>(*state).hidden.sizes() == std::vector<int64_t>{2, 4, 16});
  CHECK(state->rows() == 4);

  SECTION("one step at a time equals the whole prefix at once") {
    auto s2 = model.init_state(model.encode(X, lens));
    std::vector<torch::Tensor> steps;
    auto Y = torch::randint(0, 10, {4, 7}, torch::kLong);
    auto s1 = model.init_state(model.encode(X, lens));
    auto full = model.step(Y, *s1);
    for (int64_t t = 0; t < 7; ++t) steps.push_back(model.step(Y.narrow(1, t, 1), *s2));
    CHECK(torch::allclose(full, torch::cat(steps, 1), 1e-5, 1e-5));
  }
  SECTION("the encoder's final state ignores padding after the valid length") {
    auto src = torch::randint(4, 10, {1, 7}, torch::kLong);
    auto short_src = src.clone();
    short_src.narrow(1, 4, 3).fill_(1);
    auto a = model.encode(src.narrow(1, 0, 4), torch::tensor({4}));
    auto b = model.encode(short_src, torch::tensor({4}));
    CHECK(torch::allclose(a.final_state, b.final_state, 1e-6, 1e-6));
  }
  SECTION("attention weights are recorded per step with zero weight on padding") {
    if (!attention) return;
    AttentionWeights weights;
    auto s = model.init_state(model.encode(X, torch::tensor({7, 5, 3, 1})));
    model.step(X.narrow(1, 0, 2), *s, &weights);
    const auto& layers = weights.layers.at("encoder_decoder");
    REQUIRE(layers.size() == 1);
    CHECK(layers[0].sizes() == std::vector<int64_t>{4, 1, 2, 7});
    // Row 2 has 3 valid source positions: keys 3.. get no weight; each query's weights sum to 1.
    CHECK(layers[0][2].narrow(-1, 3, 4).abs().sum().item<float>() == 0.0f);
    CHECK_THAT(layers[0].sum(-1).sub(1).abs().max().item<double>(), Catch::Matchers::WithinAbs(0.0, 1e-5));
  }
  SECTION("select keeps, reorders and repeats rows of every state tensor") {
    auto Y = torch::randint(0, 10, {4, 3}, torch::kLong);
    auto whole = model.init_state(model.encode(X, torch::tensor({7, 5, 3, 1})));
    auto picked = model.init_state(model.encode(X, torch::tensor({7, 5, 3, 1})));
    model.step(Y.narrow(1, 0, 1), *whole);
    model.step(Y.narrow(1, 0, 1), *picked);
    const auto index = torch::tensor({2, 0, 2}, torch::kLong);
    picked->select(index);
    CHECK(picked->rows() == 3);
    auto a = model.step(Y.narrow(1, 1, 2), *whole).index_select(0, index);
    auto b = model.step(Y.index_select(0, index).narrow(1, 1, 2), *picked);
    CHECK(torch::allclose(a, b, 1e-5, 1e-5));
  }
}

TEST_CASE("model factory", "[models]") {
  auto c = nmt::test::tiny_model_config(GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer"));
  auto model = make_model(c, 11, 13);
  model->eval();
  auto logits = model->forward(torch::ones({3, 5}, torch::kLong), torch::tensor({5, 2, 1}), torch::ones({3, 4}, torch::kLong));
  CHECK(logits.sizes() == std::vector<int64_t>{3, 4, 13});
  CHECK(count_parameters(*model) > 0);
  c.type = "lstm";
  CHECK_THROWS_AS(make_model(c, 11, 13), std::invalid_argument);
}
