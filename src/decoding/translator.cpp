#include "decoding/translator.h"

#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "data/preprocess.h"
#include "decoding/greedy.h"

namespace nmt::decoding {
namespace {

nlohmann::json tensor_to_json(const torch::Tensor& t) {
  if (t.dim() == 0) return t.item<float>();
  nlohmann::json a = nlohmann::json::array();
  for (int64_t i = 0; i < t.size(0); ++i) a.push_back(tensor_to_json(t[i]));
  return a;
}

/// Joins recorded chunks `[batch, heads, q, k_i]` along the queries, zero-padding keys to the widest chunk.
torch::Tensor join_chunks(const std::vector<torch::Tensor>& chunks) {
  int64_t keys = 0;
  for (const auto& c : chunks) keys = std::max(keys, c.size(3));
  std::vector<torch::Tensor> padded;
  for (const auto& c : chunks)
    padded.push_back(c.size(3) == keys ? c : torch::constant_pad_nd(c, {0, keys - c.size(3)}));
  return torch::cat(padded, 2);
}

}  // namespace

std::string Translation::text() const { return data::join_tokens(output_tokens); }

std::vector<std::string> Translation::query_tokens() const {
  auto q = output_tokens;
  if (emitted_eos) q.push_back(data::Vocab::kEos);
  return q;
}

nlohmann::json Translation::attention_json() const {
  nlohmann::json j{{"source_tokens", source_tokens}, {"output_tokens", output_tokens}};
  nlohmann::json layers = nlohmann::json::object();
  for (const auto& [kind, tensor] : attention) layers[kind] = tensor_to_json(tensor);
  auto it = attention.find("encoder_decoder");
  j["attention"] = it == attention.end() ? nlohmann::json::array() : tensor_to_json(it->second[-1].mean(0));
  j["layers"] = layers;
  return j;
}

Translator::Translator(models::Seq2SeqModel model, data::Vocab src_vocab, data::Vocab tgt_vocab, int64_t num_steps,
                       c10::Device device)
    : model_(std::move(model)),
      src_vocab_(std::move(src_vocab)),
      tgt_vocab_(std::move(tgt_vocab)),
      num_steps_(num_steps),
      device_(device) {}

std::vector<Translation> Translator::translate(const std::vector<std::string>& sentences,
                                               const TranslateOptions& options) const {
  std::vector<std::vector<std::string>> sources;
  sources.reserve(sentences.size());
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    try {
      sources.push_back(data::tokenize(data::preprocess_nmt(sentences[i])));
    } catch (const std::invalid_argument& e) {
      spdlog::warn("[translate] input line {}: {}; writing an empty translation", i + 1, e.what());
      sources.emplace_back();
    }
  }
  return translate_tokens(sources, options);
}

std::vector<Translation> Translator::translate_tokens(const std::vector<std::vector<std::string>>& sources,
                                                      const TranslateOptions& options) const {
  const int64_t max_len = options.max_len > 0 ? options.max_len : num_steps_;
  const int64_t batch_size = std::max<int64_t>(1, options.batch_size);
  std::vector<Translation> out(sources.size());

  // Non-empty sentences, sorted by length so that batches hold similar lengths.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < sources.size(); ++i)
    if (!sources[i].empty()) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sources[a].size() < sources[b].size(); });

  model_->eval();
  torch::NoGradGuard no_grad;
  for (std::size_t start = 0; start < order.size(); start += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(order.size(), start + static_cast<std::size_t>(batch_size));
    const auto n = static_cast<int64_t>(end - start);
    int64_t width = 1;
    std::vector<data::EncodedSequence> encoded;
    for (std::size_t k = start; k < end; ++k) {
      encoded.push_back(data::encode_sequence(src_vocab_, sources[order[k]], num_steps_));
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
    models::AttentionRecord record;
    SearchResult result = greedy_search(*model_, src.to(device_), lens.to(device_), tgt_vocab_.bos(), tgt_vocab_.eos(),
                                        max_len, options.record_attention ? &record : nullptr);
    std::map<std::string, torch::Tensor> joined;  // kind -> [batch, layers, heads, q, k]
    for (const auto& [kind, layers] : record.weights) {
      std::vector<torch::Tensor> per_layer;
      for (const auto& chunks : layers) per_layer.push_back(join_chunks(chunks));
      joined[kind] = torch::stack(per_layer, 1);
    }
    for (int64_t r = 0; r < n; ++r) {
      const std::size_t i = order[start + static_cast<std::size_t>(r)];
      Translation& t = out[i];
      const auto& e = encoded[static_cast<std::size_t>(r)];
      t.truncated = static_cast<int64_t>(sources[i].size()) + 1 > num_steps_;
      for (int64_t c = 0; c < e.valid_len; ++c)
        t.source_tokens.push_back(c < static_cast<int64_t>(sources[i].size()) ? sources[i][c] : data::Vocab::kEos);
      t.output_tokens = tgt_vocab_.decode(result.tokens[r]);
      const int64_t steps = result.steps[r];
      t.emitted_eos = static_cast<int64_t>(result.tokens[r].size()) < steps;
      for (const auto& [kind, w] : joined) {
        auto m = w[r];  // [layers, heads, q, k]
        const int64_t q = kind == "encoder_self" ? e.valid_len : steps;
        const int64_t k = kind == "decoder_self" ? steps : e.valid_len;
        t.attention[kind] = m.narrow(2, 0, std::min(q, m.size(2))).narrow(3, 0, std::min(k, m.size(3))).contiguous();
      }
    }
  }
  return out;
}

}  // namespace nmt::decoding
