#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "common/config.h"
#include "data/vocab.h"
#include "decoding/search.h"
#include "decoding/translator.h"
#include "models/model_factory.h"
#include "models/transformer.h"
#include "support/tiny_model.h"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using nmt::decoding::BeamSearch;
using nmt::decoding::GreedySearch;
using nmt::decoding::Hypothesis;
using nmt::decoding::LengthPenalty;
using nmt::decoding::SearchOptions;
using nmt::decoding::SpecialTokens;

namespace {

// ------------------------------------------------------------------------------------------ scripted decoder
// A decoder behind the model interface whose next-token probabilities come from a fixed table, so that every
// hypothesis's probability is known by hand. Tokens: 0 <pad>, 1 <bos>, 2 <eos>, 3 "a", 4 "b".
// Prefix nodes: 0 before <bos>, 1 after <bos>, 2 after "a", 3 after "b", 4 any longer prefix.
// Greedy search takes "a" (0.4998), then <eos> (0.4): 0.19992. The best sequence is "b <eos>": 0.4 · 0.9 = 0.36.
constexpr int64_t kPad = 0, kBos = 1, kEos = 2, kA = 3, kB = 4, kVocab = 5, kNodes = 5;

/// P(token | node), rows = nodes, columns = tokens; each row sums to 1.
const double kTable[kNodes][kVocab] = {
    {0.2, 0.2, 0.2, 0.2, 0.2},                // before <bos> (never asked)
    {1e-4, 1e-4, 0.1, 0.4998, 0.4},           // after <bos>
    {1e-4, 1e-4, 0.4, 0.2999, 0.2999},        // after "a"
    {1e-4, 1e-4, 0.9, 0.0499, 0.0499},        // after "b"
    {1e-4, 1e-4, 0.5, 0.2499, 0.2499},        // longer prefixes
};

double lp(int64_t node, int64_t token) { return std::log(kTable[node][token]); }

int64_t next_node(int64_t node, int64_t token) {
  if (node == 0) return 1;
  if (node == 1 && token == kA) return 2;
  if (node == 1 && token == kB) return 3;
  return 4;
}

class ScriptedState : public nmt::models::DecoderState {
 public:
  torch::Tensor node;  // [rows] int64
  void select(const torch::Tensor& index) override { node = node.index_select(0, index.to(torch::kCPU)); }
  int64_t rows() const override { return node.size(0); }
};

/// Features are one-hot prefix nodes; the output layer's weight holds log P(token | node), so the logits are the
/// table's log-probabilities.
class ScriptedModelImpl : public nmt::models::Seq2SeqModelImpl {
 public:
  ScriptedModelImpl() {
    weight_ = torch::empty({kVocab, kNodes});
    for (int64_t v = 0; v < kVocab; ++v)
      for (int64_t n = 0; n < kNodes; ++n) weight_[v][n] = lp(n, v);
    bias_ = torch::zeros({kVocab});
  }
  nmt::models::EncoderOutput encode(const torch::Tensor& src, const torch::Tensor& valid_lens,
                                    nmt::models::AttentionWeights* /*attention*/) override {
    return {torch::zeros({src.size(0), src.size(1), kNodes}), valid_lens, torch::Tensor()};
  }
  std::unique_ptr<nmt::models::DecoderState> init_state(const nmt::models::EncoderOutput& encoded) override {
    auto s = std::make_unique<ScriptedState>();
    s->node = torch::zeros({encoded.outputs.size(0)}, torch::kLong);
    return s;
  }
  torch::Tensor decode_features(const torch::Tensor& tgt, nmt::models::DecoderState& base,
                                nmt::models::AttentionWeights* /*attention*/) override {
    auto& s = dynamic_cast<ScriptedState&>(base);
    auto out = torch::zeros({tgt.size(0), tgt.size(1), kNodes});
    for (int64_t r = 0; r < tgt.size(0); ++r) {
      int64_t node = s.node[r].item<int64_t>();
      for (int64_t t = 0; t < tgt.size(1); ++t) {
        node = next_node(node, tgt[r][t].item<int64_t>());
        out[r][t][node] = 1.0f;
      }
      s.node[r] = node;
    }
    s.steps_done += tgt.size(1);
    return out;
  }
  std::pair<torch::Tensor, torch::Tensor> output_layer() override { return {weight_, bias_}; }

 private:
  torch::Tensor weight_, bias_;
};

/// Runs `strategy` on one dummy source sentence of the scripted model.
std::vector<Hypothesis> scripted(const nmt::decoding::SearchStrategy& strategy, const SearchOptions& options) {
  ScriptedModelImpl model;
  const auto src = torch::full({1, 3}, kA, torch::kLong);
  const auto lens = torch::full({1}, 3, torch::kLong);
  return strategy.search(model, src, lens, {kBos, kEos}, options).at(0);
}

// ---------------------------------------------------------------------------------------------- real models
constexpr int64_t kRealVocab = 9;

/// Teacher-forced log-probability of each scored token of `h` (its tokens, then <eos> when finished) for
/// source row `b`.
std::vector<double> teacher_forced(nmt::models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                                   const torch::Tensor& lens, int64_t b, const Hypothesis& h, int64_t bos,
                                   int64_t eos) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> input{bos}, target = h.tokens;
  if (h.finished) target.push_back(eos);
  for (std::size_t i = 0; i + 1 < target.size(); ++i) input.push_back(target[i]);
  const auto logits = model.forward(src.narrow(0, b, 1), lens.narrow(0, b, 1),
                                    torch::tensor(input, torch::kLong).unsqueeze(0));
  const auto log_probs = torch::log_softmax(logits[0], -1);
  std::vector<double> out;
  for (std::size_t i = 0; i < target.size(); ++i)
    out.push_back(log_probs[static_cast<int64_t>(i)][target[i]].item<double>());
  return out;
}

struct RealSetup {
  nmt::models::Seq2SeqModel model;
  torch::Tensor src, lens;
};

/// A tiny untrained model of `type` and 12 sources of different lengths; the <eos> bias is raised until greedy
/// search ends some sentences within 3 steps and runs others past 5, so that rows leave the batch at
/// different steps.
RealSetup real_setup(const std::string& type) {
  auto c = nmt::test::tiny_model_config(type);
  torch::manual_seed(17);
  RealSetup s{nmt::models::make_model(c, 11, kRealVocab), torch::randint(4, 11, {12, 7}, torch::kLong),
              torch::randint(1, 8, {12}, torch::kLong)};
  s.model->eval();
  SearchOptions o;
  o.max_len = 8;
  auto eos_bias = s.model->named_parameters()["dense.bias"][kEos];
  for (int tries = 0; tries < 200; ++tries) {
    const auto r = GreedySearch().search(*s.model, s.src, s.lens, {kBos, kEos}, o);
    std::size_t lo = 99, hi = 0;
    for (const auto& h : r) lo = std::min(lo, h[0].tokens.size()), hi = std::max(hi, h[0].tokens.size());
    if (lo < 3 && hi > 5) break;
    torch::NoGradGuard no_grad;
    eos_bias.add_(0.05);
  }
  return s;
}

}  // namespace

TEST_CASE("length penalties", "[decoding]") {
  using nmt::decoding::normalized_score;
  CHECK(normalized_score(-3.0, 4, LengthPenalty::kNone, 0.8) == -3.0);
  CHECK_THAT(normalized_score(-3.0, 4, LengthPenalty::kGnmt, 0.6), WithinRel(-3.0 / std::pow(9.0 / 6.0, 0.6), 1e-12));
  CHECK_THAT(normalized_score(-3.0, 4, LengthPenalty::kAverage, 1.0), WithinRel(-0.75, 1e-12));
  CHECK_THAT(normalized_score(-3.0, 1, LengthPenalty::kGnmt, 1.0), WithinRel(-3.0, 1e-12));
  CHECK(nmt::decoding::parse_length_penalty("gnmt") == LengthPenalty::kGnmt);
  CHECK_THROWS_WITH(nmt::decoding::parse_length_penalty("wu"), Catch::Matchers::Contains("none, gnmt, average"));
  CHECK_THROWS_AS(normalized_score(-1.0, 0, LengthPenalty::kNone, 0.0), std::invalid_argument);

  SearchOptions o;
  o.max_len_a = 1.5;
  o.max_len_b = 3;
  CHECK(o.max_output_len(7, 0) == 13);   // floor(10.5) + 3
  CHECK(o.max_output_len(7, 11) == 11);  // the decoder's positional limit
  o.max_len = 5;
  CHECK(o.max_output_len(7, 0) == 5);
  o.n_best = 2;
  CHECK_THROWS_WITH(o.validate(), Catch::Matchers::Contains("n_best = 2"));
}

TEST_CASE("search on a scripted decoder with known probabilities", "[decoding]") {
  SearchOptions o;
  o.scores = true;
  SECTION("greedy search takes the locally best token and misses the best sequence") {
    const auto hyps = scripted(GreedySearch(), o);
    REQUIRE(hyps.size() == 1);
    CHECK(hyps[0].tokens == std::vector<int64_t>{kA});
    CHECK(hyps[0].finished);
    CHECK_THAT(hyps[0].log_prob, WithinAbs(lp(1, kA) + lp(2, kEos), 1e-5));
  }
  SECTION("beam 2 finds the best sequence; the n-best list is sorted with the table's log-probabilities") {
    o.beam_size = 2;
    o.n_best = 2;
    const auto hyps = scripted(BeamSearch(), o);
    REQUIRE(hyps.size() == 2);
    CHECK(hyps[0].tokens == std::vector<int64_t>{kB});
    CHECK(hyps[0].finished);
    CHECK_THAT(hyps[0].log_prob, WithinAbs(std::log(0.4 * 0.9), 1e-5));
    CHECK(hyps[0].score == hyps[0].log_prob);  // no length penalty
    REQUIRE(hyps[0].token_scores.size() == 2);
    CHECK_THAT(hyps[0].token_scores[0], WithinAbs(lp(1, kB), 1e-5));
    CHECK_THAT(hyps[0].token_scores[1], WithinAbs(lp(3, kEos), 1e-5));
    CHECK(hyps[1].tokens == std::vector<int64_t>{kA});
    CHECK_THAT(hyps[1].log_prob, WithinAbs(lp(1, kA) + lp(2, kEos), 1e-5));
    CHECK(hyps[0].score > hyps[1].score);
  }
  SECTION("length penalties against hand-computed values") {
    o.beam_size = 2;
    o.n_best = 2;
    o.alpha = 0.7;
    const double best = std::log(0.4 * 0.9);
    o.length_penalty = LengthPenalty::kGnmt;
    CHECK_THAT(scripted(BeamSearch(), o)[0].score, WithinAbs(best / std::pow(7.0 / 6.0, 0.7), 1e-5));
    o.length_penalty = LengthPenalty::kAverage;
    const auto hyps = scripted(BeamSearch(), o);
    CHECK_THAT(hyps[0].score, WithinAbs(best / std::pow(2.0, 0.7), 1e-5));
    CHECK_THAT(hyps[0].log_prob, WithinAbs(best, 1e-5));  // the raw sum stays
  }
  SECTION("min_len blocks <eos> until that many tokens were produced") {
    o.beam_size = 2;
    o.n_best = 2;
    o.min_len = 2;
    const auto hyps = scripted(BeamSearch(), o);
    REQUIRE(hyps.size() == 2);
    for (const auto& h : hyps) {
      CHECK(h.tokens.size() >= 2);
      CHECK(h.finished);
    }
    // "a a <eos>" and "a b <eos>" tie at 0.4998 · 0.2999 · 0.5; "b" prefixes fall out of the beam at step 2.
    CHECK(hyps[0].tokens[0] == kA);
    CHECK_THAT(hyps[0].log_prob, WithinAbs(lp(1, kA) + lp(2, kA) + lp(4, kEos), 1e-5));
    o.beam_size = 1;
    o.n_best = 1;
    const auto greedy = scripted(GreedySearch(), o);
    CHECK(greedy[0].tokens == std::vector<int64_t>{kA, kA});
  }
  SECTION("at the maximum length the live hypotheses end unfinished") {
    o.beam_size = 2;
    o.n_best = 2;
    o.max_len = 1;
    const auto hyps = scripted(BeamSearch(), o);
    REQUIRE(hyps.size() == 2);
    CHECK(hyps[0].tokens == std::vector<int64_t>{kA});
    CHECK_FALSE(hyps[0].finished);
    CHECK_THAT(hyps[0].log_prob, WithinAbs(lp(1, kA), 1e-5));
    CHECK(hyps[1].tokens == std::vector<int64_t>{kB});
  }
}

TEST_CASE("search on real models", "[decoding]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer");
  INFO(type);
  RealSetup s = real_setup(type);
  auto& model = *s.model;
  SearchOptions o;
  o.max_len = 8;
  const int64_t batch = s.src.size(0);

  SECTION("beam size 1 gives exactly greedy's tokens") {
    const auto greedy = GreedySearch().search(model, s.src, s.lens, {kBos, kEos}, o);
    const auto beam1 = BeamSearch().search(model, s.src, s.lens, {kBos, kEos}, o);
    for (int64_t b = 0; b < batch; ++b) {
      CHECK(beam1[b].at(0).tokens == greedy[b].at(0).tokens);
      CHECK(beam1[b][0].finished == greedy[b][0].finished);
    }
    // Greedy with scores picks the same tokens and scores them like the beam.
    o.scores = true;
    const auto scored = GreedySearch().search(model, s.src, s.lens, {kBos, kEos}, o);
    for (int64_t b = 0; b < batch; ++b) {
      CHECK(scored[b][0].tokens == greedy[b][0].tokens);
      CHECK_THAT(scored[b][0].log_prob, WithinAbs(beam1[b][0].log_prob, 1e-4));
    }
  }
  SECTION("scores are the teacher-forced log-probabilities; batched equals one sentence at a time") {
    o.beam_size = 4;
    o.n_best = 3;
    o.length_penalty = LengthPenalty::kGnmt;
    o.alpha = 1.0;
    o.max_len = 0;  // per sentence: its source length + 1 (1 to 7 tokens + <eos>), so sentences end at different steps
    o.max_len_a = 1.0;
    o.max_len_b = 1;
    const auto together = BeamSearch().search(model, s.src, s.lens, {kBos, kEos}, o);
    std::size_t lo = 99, hi = 0;
    for (int64_t b = 0; b < batch; ++b) {
      INFO("sentence " << b);
      const auto& hyps = together[b];
      REQUIRE(hyps.size() == 3);
      const auto alone = BeamSearch().search(model, s.src.narrow(0, b, 1), s.lens.narrow(0, b, 1), {kBos, kEos}, o)[0];
      REQUIRE(alone.size() == 3);
      for (std::size_t k = 0; k < hyps.size(); ++k) {
        const Hypothesis& h = hyps[k];
        if (k > 0) CHECK(hyps[k - 1].score >= h.score);
        for (const int64_t id : h.tokens) CHECK(id != kEos);
        CHECK(static_cast<int64_t>(h.token_scores.size()) <= s.lens[b].item<int64_t>() + 1);
        CHECK(alone[k].tokens == h.tokens);
        CHECK_THAT(alone[k].log_prob, WithinAbs(h.log_prob, 1e-5));
        const auto reference = teacher_forced(model, s.src, s.lens, b, h, kBos, kEos);
        REQUIRE(reference.size() == h.token_scores.size());
        double sum = 0;
        for (std::size_t i = 0; i < reference.size(); ++i) {
          CHECK_THAT(h.token_scores[i], WithinAbs(reference[i], 1e-4));
          sum += reference[i];
        }
        CHECK_THAT(h.log_prob, WithinAbs(sum, 1e-4));
        const auto length = static_cast<double>(h.token_scores.size());
        CHECK_THAT(h.score, WithinAbs(sum / ((5.0 + length) / 6.0), 1e-4));
      }
      std::size_t longest = 0;  // the step at which the sentence was done
      for (const auto& h : hyps) longest = std::max(longest, h.token_scores.size());
      lo = std::min(lo, longest);
      hi = std::max(hi, longest);
    }
    CHECK(lo < hi);  // sentences were done at different steps, so rows left the batch
  }
  SECTION("attention rows follow the chosen hypothesis") {
    if (type == "seq2seq") return;  // no attention
    o.beam_size = 3;
    o.n_best = 3;
    o.record_attention = true;
    const auto hyps = BeamSearch().search(model, s.src, s.lens, {kBos, kEos}, o);
    torch::NoGradGuard no_grad;
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t src_len = s.lens[b].item<int64_t>();
      for (const Hypothesis& h : hyps[b]) {
        std::vector<int64_t> input{kBos};
        for (std::size_t i = 0; i + 1 < h.token_scores.size(); ++i) input.push_back(h.tokens[i]);
        nmt::models::AttentionWeights tf;
        auto state = model.init_state(model.encode(s.src.narrow(0, b, 1), s.lens.narrow(0, b, 1)));
        model.decode_features(torch::tensor(input, torch::kLong).unsqueeze(0), *state, &tf);
        const auto expected = tf.stacked("encoder_decoder")[0].narrow(3, 0, src_len);  // [layers, heads, q, S]
        const auto& got = h.attention.at("encoder_decoder");
        REQUIRE(got.sizes() == expected.sizes());
        CHECK_THAT((got - expected).abs().max().item<double>(), WithinAbs(0.0, 1e-5));
        if (type == "transformer") {
          const auto& self = h.attention.at("decoder_self");
          const auto q = static_cast<int64_t>(h.token_scores.size());
          CHECK(self.sizes() == torch::IntArrayRef({2, 4, q, q}));
          CHECK((self - tf.stacked("decoder_self")[0]).abs().max().item<double>() < 1e-5);
          CHECK(h.attention.at("encoder_self").sizes() == torch::IntArrayRef({2, 4, src_len, src_len}));
        }
      }
    }
  }
}

TEST_CASE("a long source is translated whole", "[decoding]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer");
  INFO(type);
  std::vector<std::string> words;
  for (int i = 0; i < 40; ++i) words.push_back("w" + std::to_string(i % 13));
  const auto src_vocab = nmt::data::Vocab::build({words}, 1);
  const auto tgt_vocab = nmt::data::Vocab::build({{"x", "y", "z"}}, 1);
  auto c = nmt::test::tiny_model_config(type);
  torch::manual_seed(5);
  auto model = nmt::models::make_model(c, src_vocab.size(), tgt_vocab.size());
  nmt::decoding::Translator translator(model, src_vocab, tgt_vocab, torch::Device(torch::kCPU));
  nmt::decoding::TranslateOptions options;
  options.search.record_attention = true;
  options.search.beam_size = 2;
  const auto out = translator.translate_tokens({words}, options);
  REQUIRE(out.size() == 1);
  CHECK(out[0].source_tokens.size() == 41);
  REQUIRE_FALSE(out[0].hypotheses.empty());
  if (type != "seq2seq") {
    const auto& a = out[0].hypotheses[0].attention.at("encoder_decoder");
    CHECK(a.size(3) == 41);  // every source position is attended
    CHECK(a.narrow(3, 20, 21).sum().item<double>() > 0.0);
  }
  if (type == "transformer") {
    nmt::models::TransformerOptions small;
    small.src_vocab_size = src_vocab.size();
    small.tgt_vocab_size = tgt_vocab.size();
    small.num_hiddens = 16;
    small.max_len = 30;  // positional-encoding positions
    nmt::models::Seq2SeqModel limited = std::make_shared<nmt::models::TransformerImpl>(small);
    nmt::decoding::Translator t2(limited, src_vocab, tgt_vocab, torch::Device(torch::kCPU));
    CHECK_THROWS_WITH(t2.translate_tokens({words}, options, 7),
                      Catch::Matchers::Contains("input line 7") && Catch::Matchers::Contains("at most 29"));
  }
}

TEST_CASE("greedy search picks the arg-max of the output layer", "[decoding]") {
  // 5,000 target words (many vocabulary blocks of the fused projection + arg-max) and 100 sentences (7 row tiles).
  auto c = nmt::test::tiny_model_config(GENERATE(as<std::string>{}, "seq2seq_attention", "transformer"));
  torch::manual_seed(4);
  const int64_t vocab = 5000, batch = 100, max_len = 4;
  auto model = nmt::models::make_model(c, 11, vocab);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto src = torch::randint(4, 11, {batch, 5}, torch::kLong);
  const auto lens = torch::randint(1, 6, {batch}, torch::kLong);
  SearchOptions o;
  o.max_len = max_len;
  const auto result = GreedySearch().search(*model, src, lens, {kBos, kEos}, o);
  // Reference: the whole batch for max_len steps with LibTorch's projection and argmax.
  auto state = model->init_state(model->encode(src, lens));
  auto input = torch::full({batch, 1}, kBos, torch::kLong);
  std::vector<torch::Tensor> picks;
  for (int64_t t = 0; t < max_len; ++t) {
    input = model->step(input, *state).argmax(-1);
    picks.push_back(input);
  }
  const auto reference = torch::cat(picks, 1);
  int64_t checked = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const auto& tokens = result[static_cast<std::size_t>(b)].at(0).tokens;
    for (std::size_t t = 0; t < tokens.size(); ++t, ++checked)
      CHECK(tokens[t] == reference[b][static_cast<int64_t>(t)].item<int64_t>());
  }
  CHECK(checked > batch);  // most sentences produced several tokens (<eos> is 1 word in 5,000)
  CHECK(reference.max().item<int64_t>() > 2500);  // picks from the whole vocabulary
}
