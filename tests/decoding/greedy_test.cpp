#include <catch2/catch.hpp>

#include <algorithm>

#include <torch/torch.h>

#include "common/config.h"
#include "decoding/greedy.h"
#include "models/model_factory.h"
#include "support/tiny_model.h"

namespace {

constexpr int64_t kBos = 2, kEos = 3, kVocab = 7;

}  // namespace

TEST_CASE("batched greedy search gives each sentence what decoding it alone gives", "[decoding]") {
  auto c = nmt::test::tiny_model_config(GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer"));
  torch::manual_seed(21);
  auto model = nmt::models::make_model(c, 11, kVocab);
  model->eval();
  const int64_t batch = 24, max_len = 9;
  const auto src = torch::randint(4, 11, {batch, 6}, torch::kLong);
  const auto lens = torch::randint(1, 7, {batch}, torch::kLong);
  // Raise the output bias of <eos> until an untrained model ends some sentences early and others late, so that
  // rows leave the batch at different steps.
  nmt::decoding::SearchResult together;
  auto eos_bias = model->named_parameters()["dense.bias"][kEos];
  for (int tries = 0; tries < 200; ++tries) {
    together = nmt::decoding::greedy_search(*model, src, lens, kBos, kEos, max_len);
    const auto [lo, hi] = std::minmax_element(together.steps.begin(), together.steps.end());
    if (*lo < 4 && *hi > 5) break;
    torch::NoGradGuard no_grad;
    eos_bias.add_(0.05);
  }
  REQUIRE(together.tokens.size() == static_cast<std::size_t>(batch));
  int64_t stopped_early = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const auto alone = nmt::decoding::greedy_search(*model, src.narrow(0, b, 1), lens.narrow(0, b, 1), kBos, kEos, max_len);
    INFO("sentence " << b);
    CHECK(together.tokens[b] == alone.tokens[0]);
    CHECK(together.steps[b] == alone.steps[0]);
    for (const int64_t id : together.tokens[b]) CHECK(id != kEos);
    const auto n = static_cast<int64_t>(together.tokens[b].size());
    // steps = tokens + 1 when <eos> ended the sentence, = max_len when it ran out.
    CHECK((together.steps[b] == n + 1 || (together.steps[b] == max_len && n == max_len)));
    if (together.steps[b] < max_len) ++stopped_early;
  }
  // The test exercises rows leaving the batch only if some sentences stop before others.
  CHECK(stopped_early > 0);

  SECTION("recording attention keeps the batch whole and gives the same outputs") {
    nmt::models::AttentionRecord record;
    const auto recorded = nmt::decoding::greedy_search(*model, src, lens, kBos, kEos, max_len, &record);
    CHECK(recorded.tokens == together.tokens);
    CHECK(recorded.steps == together.steps);
    if (c.type == "seq2seq") {
      CHECK(record.weights.empty());  // no attention to record
    } else {
      const auto& chunks = record.weights.at("encoder_decoder").at(0);
      CHECK(chunks.size() == static_cast<std::size_t>(*std::max_element(together.steps.begin(), together.steps.end())));
      for (const auto& chunk : chunks) CHECK(chunk.size(0) == batch);
    }
  }
  SECTION("max_len must be positive") {
    CHECK_THROWS_AS(nmt::decoding::greedy_search(*model, src, lens, kBos, kEos, 0), std::invalid_argument);
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
  const auto result = nmt::decoding::greedy_search(*model, src, lens, kBos, kEos, max_len);
  // Reference: the whole batch for max_len steps with LibTorch's projection and argmax.
  auto state = model->init_state(model->encode(src, lens));
  auto input = torch::full({batch, 1}, kBos, torch::kLong);
  std::vector<torch::Tensor> picks;
  for (int64_t t = 0; t < max_len; ++t) {
    input = model->step(input, state).argmax(-1);
    picks.push_back(input);
  }
  const auto reference = torch::cat(picks, 1);
  int64_t checked = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (std::size_t t = 0; t < result.tokens[b].size(); ++t, ++checked)
      CHECK(result.tokens[b][t] == reference[b][static_cast<int64_t>(t)].item<int64_t>());
  CHECK(checked > batch);  // most sentences produced several tokens (<eos> is 1 word in 5,000)
  CHECK(reference.max().item<int64_t>() > 2500);  // picks from the whole vocabulary
}
