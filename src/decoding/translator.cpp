#include "decoding/translator.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "data/preprocess.h"

namespace nmt::decoding {
namespace {

nlohmann::json tensor_to_json(const torch::Tensor& t) {
  if (t.dim() == 0) return t.item<float>();
  nlohmann::json a = nlohmann::json::array();
  for (int64_t i = 0; i < t.size(0); ++i) a.push_back(tensor_to_json(t[i]));
  return a;
}

}  // namespace

std::vector<std::string> TranslationHypothesis::query_tokens() const {
  auto q = output_tokens;
  if (emitted_eos) q.push_back(data::Vocab::kEos);
  return q;
}

std::string Translation::text() const { return hypotheses.empty() ? std::string() : hypotheses.front().output_text; }

nlohmann::json Translation::attention_json(std::size_t index) const {
  static const TranslationHypothesis kEmpty;
  const TranslationHypothesis& h = index < hypotheses.size() ? hypotheses[index] : kEmpty;
  nlohmann::json j{{"source_tokens", source_tokens}, {"output_tokens", h.output_tokens}};
  nlohmann::json layers = nlohmann::json::object();
  for (const auto& [kind, tensor] : h.attention) layers[kind] = tensor_to_json(tensor);
  auto it = h.attention.find("encoder_decoder");
  j["attention"] = it == h.attention.end() ? nlohmann::json::array() : tensor_to_json(it->second[-1].mean(0));
  j["layers"] = layers;
  return j;
}

SearchOptions search_options(const common::DecodeConfig& decode) {
  SearchOptions o;
  o.beam_size = decode.beam_size;
  o.length_penalty = parse_length_penalty(decode.length_penalty);
  o.alpha = decode.alpha;
  o.min_len = decode.min_len;
  o.max_len_a = decode.max_len_a;
  o.max_len_b = decode.max_len_b;
  o.max_len = decode.max_len;
  return o;
}

Translator::Translator(models::Seq2SeqModel model, data::Vocab src_vocab, data::Vocab tgt_vocab, c10::Device device,
                       data::Tokenizer src_tokenizer, data::Tokenizer tgt_tokenizer, data::TextOptions text)
    : model_(std::move(model)),
      src_vocab_(std::move(src_vocab)),
      tgt_vocab_(std::move(tgt_vocab)),
      device_(device),
      src_tokenizer_(std::move(src_tokenizer)),
      tgt_tokenizer_(std::move(tgt_tokenizer)),
      text_(text) {}

std::vector<Translation> Translator::translate(const std::vector<std::string>& sentences,
                                               const TranslateOptions& options, std::size_t first_line) const {
  std::vector<std::vector<std::string>> sources;
  sources.reserve(sentences.size());
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    try {
      sources.push_back(data::tokenize(data::preprocess(sentences[i], text_)));
    } catch (const std::invalid_argument& e) {
      spdlog::warn("[translate] input line {}: {}; writing an empty translation", first_line + i, e.what());
      sources.emplace_back();
    }
  }
  return translate_tokens(sources, options, first_line);
}

std::vector<Translation> Translator::translate_tokens(const std::vector<std::vector<std::string>>& words,
                                                      const TranslateOptions& options, std::size_t first_line) const {
  options.search.validate();
  const std::vector<std::vector<std::string>> sources = src_tokenizer_.encode(words);
  const int64_t batch_size = std::max<int64_t>(1, options.batch_size);
  const int64_t src_limit = model_->max_source_positions();
  std::vector<Translation> out(sources.size());

  // Non-empty sentences, sorted by length so that batches hold similar lengths.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].empty()) continue;
    const auto len = static_cast<int64_t>(sources[i].size()) + 1;
    if (src_limit > 0 && len > src_limit)
      throw std::runtime_error("input line " + std::to_string(first_line + i) + " has " +
                               std::to_string(sources[i].size()) + " tokens; this model accepts at most " +
                               std::to_string(src_limit - 1) + " (its positional encoding has " +
                               std::to_string(src_limit) + " positions, <eos> included)");
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sources[a].size() < sources[b].size(); });

  const auto search = make_search(options.search);
  const SpecialTokens special{tgt_vocab_.bos(), tgt_vocab_.eos()};
  model_->eval();
  torch::NoGradGuard no_grad;
  for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(order.size(), start + static_cast<std::size_t>(batch_size));
    const auto n = static_cast<int64_t>(end - start);
    int64_t width = 1;
    std::vector<data::EncodedSequence> encoded;
    for (std::size_t k = start; k < end; ++k) {
      const auto& tokens = sources[order[k]];
      encoded.push_back(data::encode_sequence(src_vocab_, tokens, static_cast<int64_t>(tokens.size()) + 1));
      width = std::max(width, encoded.back().valid_len);
    }
    auto src = torch::full({n, width}, src_vocab_.pad(), torch::kLong);
    auto lens = torch::empty({n}, torch::kLong);
    auto src_a = src.accessor<int64_t, 2>();
    auto lens_a = lens.accessor<int64_t, 1>();
    for (int64_t r = 0; r < n; ++r) {
      const auto& e = encoded[static_cast<std::size_t>(r)];
      for (int64_t c = 0; c < e.valid_len; ++c) src_a[r][c] = e.ids[static_cast<std::size_t>(c)];
      lens_a[r] = e.valid_len;
    }
    auto result = search->search(*model_, src.to(device_), lens.to(device_), special, options.search);
    for (int64_t r = 0; r < n; ++r) {
      const std::size_t i = order[start + static_cast<std::size_t>(r)];
      Translation& t = out[i];
      t.source_tokens = sources[i];
      t.source_tokens.push_back(data::Vocab::kEos);
      for (auto& h : result[static_cast<std::size_t>(r)]) {
        TranslationHypothesis th;
        th.output_tokens = tgt_vocab_.decode(h.tokens);
        th.emitted_eos = h.finished;
        th.score = h.score;
        th.log_prob = h.log_prob;
        th.token_scores = std::move(h.token_scores);
        th.attention = std::move(h.attention);
        t.hypotheses.push_back(std::move(th));
      }
    }
  }
  // Detokenise every hypothesis in one call (one crossing into SentencePiece for subword models).
  std::vector<std::vector<std::string>> outputs;
  for (const auto& t : out)
    for (const auto& h : t.hypotheses) outputs.push_back(h.output_tokens);
  const auto texts = tgt_tokenizer_.decode(outputs);
  std::size_t k = 0;
  const bool undo_spacing = options.detokenize && text_.d2l_punctuation;
  for (auto& t : out)
    for (auto& h : t.hypotheses) h.output_text = undo_spacing ? data::detokenize_d2l(texts[k++]) : texts[k++];
  return out;
}

}  // namespace nmt::decoding
