#include "models/transformer.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "common/config.h"
#include "models/model_factory.h"

using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using nmt::models::AttentionWeights;
using nmt::models::TransformerDecoderState;
using nmt::models::TransformerImpl;
using nmt::models::TransformerOptions;

namespace {

TransformerOptions tiny_options() {
  TransformerOptions o;
  o.src_vocab_size = 13;
  o.tgt_vocab_size = 11;
  o.num_hiddens = 16;
  o.ffn_num_hiddens = 24;
  o.num_heads = 4;
  o.num_layers = 2;
  o.num_decoder_layers = 0;
  o.dropout = 0.2;
  return o;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("MultiHeadAttention (d2l 11.5)", "[models][transformer]") {
  torch::manual_seed(0);
  SECTION("d2l shape check: 100 hiddens, 5 heads") {
    nmt::models::MultiHeadAttention attention(100, 5, 0.5);
    attention->eval();
    auto x = torch::ones({2, 4, 100});
    auto y = torch::ones({2, 6, 100});
    auto valid_lens = torch::tensor({3, 2}, torch::kLong);
    torch::Tensor weights;
    auto out = attention->forward(x, y, y, valid_lens, &weights);
    CHECK(out.sizes() == torch::IntArrayRef({2, 4, 100}));
    REQUIRE(weights.sizes() == torch::IntArrayRef({2, 5, 4, 6}));
    // Rows sum to 1; keys past the valid length get exactly 0; identical keys share the weight evenly.
    CHECK_THAT(weights.sum(-1).sub(1).abs().max().item<double>(), WithinAbs(0.0, 1e-6));
    CHECK(weights.index({0, torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(3)})
              .abs().max().item<double>() == 0.0);
    CHECK(weights.index({1, torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(2)})
              .abs().max().item<double>() == 0.0);
    CHECK_THAT(weights[0][2][1][0].item<double>(), WithinAbs(1.0 / 3.0, 1e-6));
    CHECK_THAT(weights[1][4][3][1].item<double>(), WithinAbs(0.5, 1e-6));
  }
  SECTION("project_kv + attend equals forward; per-query valid_lens") {
    nmt::models::MultiHeadAttention attention(12, 3, 0.0);
    auto q = torch::randn({2, 3, 12});
    auto kv = torch::randn({2, 5, 12});
    auto lens = torch::tensor({{1, 2, 3}, {5, 4, 3}}, torch::kLong);
    torch::Tensor w1, w2;
    auto a = attention->forward(q, kv, kv, lens, &w1);
    auto [k, v] = attention->project_kv(kv, kv);
    auto b = attention->attend(q, k, v, lens, &w2);
    CHECK_THAT(max_abs_diff(a, b), WithinAbs(0.0, 1e-6));
    // Heads split as [batch, heads, keys, head_dim]: head 1 holds features 4..7 of W_k · kv.
    REQUIRE(k.sizes() == torch::IntArrayRef({2, 3, 5, 4}));
    CHECK(k.is_contiguous());
    auto projected = torch::matmul(kv, attention->named_parameters()["W_k.weight"].t());
    CHECK_THAT(max_abs_diff(k.select(1, 1), projected.narrow(2, 4, 4)), WithinAbs(0.0, 1e-6));
    CHECK_THROWS_WITH(attention->attend(q, projected, projected, lens), Contains("project_kv"));
    CHECK(w1[0][1][0].index({torch::indexing::Slice(1)}).abs().max().item<double>() == 0.0);
    CHECK(w1[1][2][2].index({torch::indexing::Slice(3)}).abs().max().item<double>() == 0.0);
    CHECK(w1[1][0][0][4].item<double>() > 0.0);
  }
  SECTION("self-attention projects Q, K and V in one GEMM: same values and gradients as three projections") {
    torch::manual_seed(3);
    nmt::models::MultiHeadAttention attention(12, 3, 0.0);
    auto x = torch::randn({2, 4, 12});
    auto lens = torch::tensor({3, 4}, torch::kLong);
    auto [q, k, v] = attention->project_qkv(x);
    REQUIRE(q.sizes() == torch::IntArrayRef({2, 3, 4, 4}));
    CHECK(q.is_contiguous());
    auto [k2, v2] = attention->project_kv(x, x);
    CHECK_THAT(max_abs_diff(k, k2), WithinAbs(0.0, 1e-6));
    CHECK_THAT(max_abs_diff(v, v2), WithinAbs(0.0, 1e-6));
    {
      torch::NoGradGuard no_grad;  // the decoding path: three GEMMs into one buffer
      auto [q3, k3, v3] = attention->project_qkv(x);
      CHECK(q3.is_contiguous());
      CHECK_THAT(max_abs_diff(q3, q), WithinAbs(0.0, 1e-6));
      CHECK_THAT(max_abs_diff(k3, k), WithinAbs(0.0, 1e-6));
      CHECK_THAT(max_abs_diff(v3, v), WithinAbs(0.0, 1e-6));
    }
    auto w_q = attention->named_parameters()["W_q.weight"];
    CHECK_THAT(max_abs_diff(q.select(1, 2), torch::matmul(x, w_q.t()).narrow(2, 8, 4)), WithinAbs(0.0, 1e-6));

    // self_attend takes the stacked path; forward(x, x, x) the three separate projections.
    auto fused = attention->self_attend(x, lens);
    auto grads = torch::autograd::grad({fused.square().sum()}, attention->parameters());
    auto separate = attention->forward(x, x, x, lens);
    auto grads_separate = torch::autograd::grad({separate.square().sum()}, attention->parameters());
    CHECK_THAT(max_abs_diff(fused, separate), WithinAbs(0.0, 1e-5));
    REQUIRE(grads.size() == 4);
    for (std::size_t i = 0; i < grads.size(); ++i) {
      INFO("parameter " << i);
      CHECK(grads[i].abs().max().item<double>() > 0.0);
      CHECK_THAT(max_abs_diff(grads[i], grads_separate[i]), WithinAbs(0.0, 1e-4));
    }
  }
  SECTION("num_heads must divide num_hiddens") {
    CHECK_THROWS_AS(nmt::models::MultiHeadAttention(100, 3, 0.0), std::invalid_argument);
    CHECK_THROWS_WITH(nmt::models::MultiHeadAttention(100, 3, 0.0), Contains("100") && Contains("3"));
    auto o = tiny_options();
    o.num_heads = 5;
    CHECK_THROWS_WITH(TransformerImpl(o), Contains("(5)") && Contains("(16)"));
  }
}

TEST_CASE("PositionalEncoding values (d2l 11.6)", "[models][transformer]") {
  const int64_t d = 32;
  nmt::models::PositionalEncoding pe(d, 0.0);
  const auto& P = pe->table();
  REQUIRE(P.sizes() == torch::IntArrayRef({1000, d}));
  REQUIRE(pe->named_buffers().contains("P"));
  for (int64_t pos : {0, 1, 7, 999}) {
    for (int64_t i : {0, 3, 15}) {
      const double angle = pos / std::pow(10000.0, 2.0 * i / d);
      CHECK_THAT(P[pos][2 * i].item<double>(), WithinAbs(std::sin(angle), 1e-5));
      CHECK_THAT(P[pos][2 * i + 1].item<double>(), WithinAbs(std::cos(angle), 1e-5));
    }
  }
  SECTION("forward adds the rows at the offset") {
    auto x = torch::zeros({2, 3, d});
    auto y = pe->forward(x, 5);
    CHECK_THAT(max_abs_diff(y[1], P.narrow(0, 5, 3)), WithinAbs(0.0, 1e-7));
    CHECK_THROWS_AS(pe->forward(x, 998), std::invalid_argument);
  }
}

TEST_CASE("Transformer encoder and masking (d2l 11.7)", "[models][transformer]") {
  torch::manual_seed(1);
  SECTION("d2l encoder shape: vocab 200, 24 hiddens, 8 heads, 2 layers, 100 tokens") {
    TransformerOptions o;
    o.src_vocab_size = 200;
    o.tgt_vocab_size = 200;
    o.num_hiddens = 24;
    o.ffn_num_hiddens = 48;
    o.num_heads = 8;
    o.num_layers = 2;
    o.dropout = 0.5;
    TransformerImpl model(o);
    model.eval();
    auto valid_lens = torch::tensor({3, 2}, torch::kLong);
    auto encoded = model.encode(torch::ones({2, 100}, torch::kLong), valid_lens);
    CHECK(encoded.outputs.sizes() == torch::IntArrayRef({2, 100, 24}));
    CHECK_FALSE(encoded.final_state.defined());
    nmt::models::EncoderBlock block(24, 48, 8, 0.5, false);
    block->eval();
    CHECK(block->forward(torch::ones({2, 100, 24}), valid_lens).sizes() == torch::IntArrayRef({2, 100, 24}));
  }
  SECTION("padded keys get exactly zero weight in encoder_self and encoder_decoder") {
    TransformerImpl model(tiny_options());
    model.eval();
    auto src = torch::randint(1, 13, {2, 6}, torch::kLong);
    auto src_lens = torch::tensor({4, 6}, torch::kLong);
    AttentionWeights encoder_weights, decoder_weights;
    auto encoded = model.encode(src, src_lens, &encoder_weights);
    auto state = model.init_state(encoded);
    model.step(torch::randint(1, 11, {2, 3}, torch::kLong), *state, &decoder_weights);
    using torch::indexing::Slice;
    REQUIRE(encoder_weights.layers["encoder_self"].size() == 2);
    REQUIRE(decoder_weights.layers["encoder_decoder"].size() == 2);
    CHECK(decoder_weights.stacked("encoder_decoder").sizes() == torch::IntArrayRef({2, 2, 4, 3, 6}));
    for (std::size_t l = 0; l < 2; ++l) {
      auto self_w = encoder_weights.layers["encoder_self"][l];
      REQUIRE(self_w.sizes() == torch::IntArrayRef({2, 4, 6, 6}));
      CHECK(self_w.index({0, Slice(), Slice(), Slice(4)}).abs().max().item<double>() == 0.0);
      CHECK(self_w.index({1}).min().item<double>() > 0.0);
      auto cross_w = decoder_weights.layers["encoder_decoder"][l];
      REQUIRE(cross_w.sizes() == torch::IntArrayRef({2, 4, 3, 6}));
      CHECK(cross_w.index({0, Slice(), Slice(), Slice(4)}).abs().max().item<double>() == 0.0);
      CHECK(cross_w.index({0, Slice(), Slice(), Slice(0, 4)}).min().item<double>() > 0.0);
      auto dec_w = decoder_weights.layers["decoder_self"][l];
      REQUIRE(dec_w.sizes() == torch::IntArrayRef({2, 4, 3, 3}));
      // causal: query 0 sees key 0 only, query 1 keys 0..1
      CHECK_THAT(dec_w.index({Slice(), Slice(), 0, 0}).min().item<double>(), WithinAbs(1.0, 1e-6));
      CHECK(dec_w.index({Slice(), Slice(), 1, 2}).abs().max().item<double>() == 0.0);
    }
  }
}

TEST_CASE("Transformer decoder: causality and incremental decoding", "[models][transformer]") {
  torch::manual_seed(2);
  auto src = torch::randint(1, 13, {3, 7}, torch::kLong);
  auto src_lens = torch::tensor({7, 3, 5}, torch::kLong);
  auto tgt = torch::randint(1, 11, {3, 6}, torch::kLong);

  SECTION("changing a later target token leaves earlier logits unchanged") {
    TransformerImpl model(tiny_options());
    model.eval();
    torch::NoGradGuard no_grad;
    auto a = model.forward(src, src_lens, tgt);
    auto tgt2 = tgt.clone();
    tgt2.index_put_({torch::indexing::Slice(), 4}, (tgt.index({torch::indexing::Slice(), 4}) % 10) + 1);
    auto b = model.forward(src, src_lens, tgt2);
    REQUIRE(a.sizes() == torch::IntArrayRef({3, 6, 11}));
    CHECK_THAT(max_abs_diff(a.narrow(1, 0, 4), b.narrow(1, 0, 4)), WithinAbs(0.0, 1e-6));
    CHECK(max_abs_diff(a.narrow(1, 4, 2), b.narrow(1, 4, 2)) > 1e-4);
    // Padding in the source (past the valid length) does not change anything.
    auto src2 = src.clone();
    src2.index_put_({1, torch::indexing::Slice(3)}, 0);
    CHECK_THAT(max_abs_diff(a, model.forward(src2, src_lens, tgt)), WithinAbs(0.0, 1e-5));
  }

  auto check_incremental = [&](TransformerOptions o) {
    TransformerImpl model(o);
    model.eval();
    torch::NoGradGuard no_grad;
    auto encoded = model.encode(src, src_lens);
    auto whole_state = model.init_state(encoded);
    auto whole = model.step(tgt, *whole_state);
    CHECK(whole_state->steps_done == 6);
    CHECK(dynamic_cast<TransformerDecoderState&>(*whole_state).self_keys[0].sizes() ==
          torch::IntArrayRef({3, o.num_heads, 6, o.num_hiddens / o.num_heads}));

    auto state = model.init_state(encoded);
    std::vector<torch::Tensor> pieces;
    for (int64_t t = 0; t < 6; ++t) {
      AttentionWeights weights;
      pieces.push_back(model.step(tgt.narrow(1, t, 1), *state, &weights));
      CHECK(weights.layers["decoder_self"].at(0).sizes() == torch::IntArrayRef({3, o.num_heads, 1, t + 1}));
    }
    auto incremental = torch::cat(pieces, 1);
    CHECK(state->steps_done == 6);
    CHECK_THAT(max_abs_diff(whole, incremental), WithinAbs(0.0, 1e-5));

    // Mixed chunk sizes (2 + 4) and a reordered batch with a repeated row via DecoderState::select (what beam
    // search's back-pointers do to the key/value caches).
    auto mixed = model.init_state(encoded);
    auto first = model.step(tgt.narrow(1, 0, 2), *mixed);
    auto order = torch::tensor({2, 0, 2}, torch::kLong);
    mixed->select(order);
    CHECK(mixed->rows() == 3);
    auto rest = model.step(tgt.index_select(0, order).narrow(1, 2, 4), *mixed);
    CHECK_THAT(max_abs_diff(whole.narrow(1, 0, 2), first), WithinAbs(0.0, 1e-5));
    CHECK_THAT(max_abs_diff(whole.index_select(0, order).narrow(1, 2, 4), rest), WithinAbs(0.0, 1e-5));
  };
  SECTION("post-norm") { check_incremental(tiny_options()); }
  SECTION("pre-norm, 3 decoder layers") {
    auto o = tiny_options();
    o.pre_norm = true;
    o.num_decoder_layers = 3;
    check_incremental(o);
  }
  SECTION("tied embeddings") {
    auto o = tiny_options();
    o.tie_embeddings = true;
    check_incremental(o);
  }
}

TEST_CASE("Transformer parameters and factory", "[models][transformer]") {
  nmt::common::ModelConfig c;
  c.type = "transformer";
  c.num_hiddens = 16;
  c.ffn_num_hiddens = 32;
  c.num_heads = 2;
  c.num_layers = 1;
  c.num_decoder_layers = 2;
  SECTION("make_model builds it; forward gives [B, T, V]") {
    auto model = nmt::models::make_model(c, 9, 7);
    auto logits = model->forward(torch::randint(0, 9, {2, 5}, torch::kLong), torch::tensor({5, 2}, torch::kLong),
                                 torch::randint(0, 7, {2, 4}, torch::kLong));
    CHECK(logits.sizes() == torch::IntArrayRef({2, 4, 7}));
    auto params = model->named_parameters();
    CHECK(params.contains("encoder_blocks.0.attention.W_q.weight"));
    CHECK(params.contains("decoder_blocks.1.cross_attention.W_o.weight"));
    CHECK(params.contains("dense.weight"));
    CHECK_FALSE(params.contains("encoder_blocks.1.attention.W_q.weight"));
    CHECK(model->named_buffers().contains("pos_encoding.P"));
    // Gradients reach the embeddings.
    logits.sum().backward();
    CHECK(params["src_embedding.weight"].grad().abs().sum().item<double>() > 0.0);
  }
  SECTION("tie_embeddings shares the target embedding and drops dense.weight") {
    auto untied = nmt::models::make_model(c, 9, 7);
    c.tie_embeddings = true;
    auto tied = nmt::models::make_model(c, 9, 7);
    CHECK(nmt::models::count_parameters(*untied) - nmt::models::count_parameters(*tied) == 7 * 16);
    auto params = tied->named_parameters();
    CHECK_FALSE(params.contains("dense.weight"));
    CHECK(params.contains("dense.bias"));
    auto logits = tied->forward(torch::randint(0, 9, {2, 5}, torch::kLong), torch::tensor({5, 2}, torch::kLong),
                                torch::randint(0, 7, {2, 4}, torch::kLong));
    logits.sum().backward();
    // The output layer's gradient lands on every row of the shared matrix (also rows not fed as input).
    CHECK(params["tgt_embedding.weight"].grad().abs().sum(1).min().item<double>() > 0.0);
  }
  SECTION("pre_norm adds the final norms") {
    c.pre_norm = true;
    auto model = nmt::models::make_model(c, 9, 7);
    CHECK(model->named_parameters().contains("encoder_norm.weight"));
    CHECK(model->named_parameters().contains("decoder_norm.bias"));
  }
}
