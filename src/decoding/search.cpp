#include "decoding/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <torch/torch.h>

#include "common/config.h"
#include "ops/projection.h"

namespace nmt::decoding {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// The decoder attention of every live row, step after step, reordered with the rows.
/// kind -> `[rows, layers, heads, steps, keys]` on the CPU ("decoder_self" keys zero-padded to the widest step).
class AttentionTrack {
 public:
  /// Appends one decoding step's weights (per layer `[rows, heads, 1, keys]`).
  void append(const models::AttentionWeights& step) {
    for (const auto& [kind, layers] : step.layers) {
      auto now = torch::stack(layers, 1).to(torch::kCPU);  // [rows, layers, heads, 1, keys]
      auto& h = history_[kind];
      if (!h.defined()) {
        h = now;
        continue;
      }
      const int64_t keys = std::max(h.size(4), now.size(4));
      if (h.size(4) < keys) h = torch::constant_pad_nd(h, {0, keys - h.size(4)});
      if (now.size(4) < keys) now = torch::constant_pad_nd(now, {0, keys - now.size(4)});
      h = torch::cat({h, now}, 3);
    }
  }
  /// Keeps rows `index` (`[n]` int64), in that order.
  void select(const torch::Tensor& index) {
    const auto idx = index.to(torch::kCPU);
    for (auto& [kind, h] : history_) h = h.index_select(0, idx);
  }
  /// Row `row`'s weights, kind -> `[layers, heads, steps, keys]`, "encoder_decoder" keys cut to `src_len`,
  /// "decoder_self" keys to the steps.
  std::map<std::string, torch::Tensor> row(int64_t row, int64_t src_len) const {
    std::map<std::string, torch::Tensor> out;
    for (const auto& [kind, h] : history_) {
      auto m = h[row];  // [layers, heads, steps, keys]
      const int64_t keys = kind == "decoder_self" ? m.size(2) : src_len;
      out[kind] = m.narrow(3, 0, std::min(keys, m.size(3))).clone();
    }
    return out;
  }

 private:
  std::map<std::string, torch::Tensor> history_;
};

/// Encoder self-attention of sentence `b`, `[layers, heads, src_len, src_len]`, when recorded.
void add_encoder_attention(const models::AttentionWeights& encoder, int64_t b, int64_t src_len,
                           std::map<std::string, torch::Tensor>& out) {
  auto it = encoder.layers.find("encoder_self");
  if (it == encoder.layers.end()) return;
  auto m = torch::stack(it->second, 1)[b].to(torch::kCPU);  // [layers, heads, S, S]
  out["encoder_self"] = m.narrow(2, 0, src_len).narrow(3, 0, src_len).contiguous();
}

/// What both searches do first: check the options and the source lengths, encode, and build the decoder state.
struct SearchStart {
  std::vector<int64_t> src_lens;  ///< per sentence, source tokens with `<eos>`
  std::vector<int64_t> max_len;   ///< per sentence, the maximum decoding steps (SearchOptions::max_output_len)
  models::AttentionWeights encoder_attention;  ///< "encoder_self", with options.record_attention
  std::unique_ptr<models::DecoderState> state;  ///< one row per sentence

  /// Throws std::invalid_argument for bad options or a source longer than the encoder accepts.
  SearchStart(models::Seq2SeqModelImpl& model, const torch::Tensor& src, const torch::Tensor& src_valid_lens,
              const SearchOptions& options) {
    options.validate();
    const auto lens = src_valid_lens.to(torch::kCPU, torch::kLong).contiguous();
    src_lens.assign(lens.data_ptr<int64_t>(), lens.data_ptr<int64_t>() + lens.numel());
    const int64_t src_limit = model.max_source_positions();
    for (const int64_t len : src_lens) {
      if (src_limit > 0 && len > src_limit)
        throw std::invalid_argument("a source of " + std::to_string(len) + " tokens (with <eos>) is longer than the " +
                                    std::to_string(src_limit) + " positions the model accepts");
      max_len.push_back(options.max_output_len(len, model.max_target_positions()));
    }
    state = model.init_state(
        model.encode(src, src_valid_lens, options.record_attention ? &encoder_attention : nullptr));
  }

  /// Attention of a hypothesis of sentence `b` that ends at row `row` of `track`.
  std::map<std::string, torch::Tensor> attention(const AttentionTrack& track, int64_t row, int64_t b) const {
    const int64_t src_len = src_lens[static_cast<std::size_t>(b)];
    auto out = track.row(row, src_len);
    add_encoder_attention(encoder_attention, b, src_len, out);
    return out;
  }
};

}  // namespace

LengthPenalty parse_length_penalty(const std::string& name) {
  if (name == common::kPenaltyNone) return LengthPenalty::kNone;
  if (name == common::kPenaltyGnmt) return LengthPenalty::kGnmt;
  if (name == common::kPenaltyAverage) return LengthPenalty::kAverage;
  throw std::invalid_argument("length penalty \"" + name + "\" is unknown; valid: " +
                              common::join_names(common::kLengthPenalties));
}

double normalized_score(double log_prob, int64_t length, LengthPenalty penalty, double alpha) {
  if (length < 1) throw std::invalid_argument("normalized_score: length must be >= 1, got " + std::to_string(length));
  switch (penalty) {
    case LengthPenalty::kNone:
      return log_prob;
    case LengthPenalty::kGnmt:
      return log_prob / std::pow((5.0 + static_cast<double>(length)) / 6.0, alpha);
    case LengthPenalty::kAverage:
      return log_prob / std::pow(static_cast<double>(length), alpha);
  }
  return log_prob;
}

void SearchOptions::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("search option " + what); };
  if (beam_size < 1) bad("beam_size = " + std::to_string(beam_size) + " must be >= 1");
  if (n_best < 1 || n_best > beam_size)
    bad("n_best = " + std::to_string(n_best) + " must be in [1, beam_size = " + std::to_string(beam_size) + "]");
  if (!(alpha >= 0.0) || !std::isfinite(alpha)) bad("alpha = " + std::to_string(alpha) + " must be >= 0");
  if (min_len < 0) bad("min_len = " + std::to_string(min_len) + " must be >= 0");
  if (!(max_len_a >= 0.0) || !std::isfinite(max_len_a)) bad("max_len_a = " + std::to_string(max_len_a) + " must be >= 0");
  if (max_len_b < 0) bad("max_len_b = " + std::to_string(max_len_b) + " must be >= 0");
  if (max_len < 0) bad("max_len = " + std::to_string(max_len) + " must be >= 0");
  if (max_len_a == 0.0 && max_len_b == 0) bad("max_len_a = max_len_b = 0 allow no output token");
}

int64_t SearchOptions::max_output_len(int64_t source_len, int64_t max_target_positions) const {
  auto n = static_cast<int64_t>(std::floor(max_len_a * static_cast<double>(source_len))) + max_len_b;
  if (max_len > 0) n = std::min(n, max_len);
  if (max_target_positions > 0) n = std::min(n, max_target_positions);
  return std::max<int64_t>(n, 1);
}

std::vector<std::vector<Hypothesis>> GreedySearch::search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                                                          const torch::Tensor& src_valid_lens, SpecialTokens special,
                                                          const SearchOptions& options) const {
  torch::NoGradGuard no_grad;
  SearchStart start(model, src, src_valid_lens, options);
  const int64_t batch = src.size(0);
  const std::vector<int64_t>& max_len = start.max_len;
  const bool record = options.record_attention;
  auto& state = start.state;
  std::vector<Hypothesis> hyps(static_cast<std::size_t>(batch));
  AttentionTrack track;
  // Rows being decoded, as indices into the batch. Finished rows leave the batch (and the decoder state) once
  // they are an eighth of it: every removal copies the whole state (the Transformer's key/value caches), while a
  // finished row costs only its share of each step. Rows are independent, so results do not depend on when
  // they leave.
  std::vector<int64_t> active(static_cast<std::size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) active[static_cast<std::size_t>(b)] = b;
  std::vector<bool> done(static_cast<std::size_t>(batch), false);
  const int64_t longest = *std::max_element(max_len.begin(), max_len.end());
  auto input = torch::full({batch, 1}, special.bos, src.options().dtype(torch::kLong));
  for (int64_t t = 0; t < longest; ++t) {
    models::AttentionWeights step_attention;
    auto features = model.decode_features(input, *state, record ? &step_attention : nullptr);
    torch::Tensor next, next_scores;
    if (options.scores || t < options.min_len) {
      auto log_probs = torch::log_softmax(model.project(features).squeeze(1).to(torch::kFloat), -1);  // [rows, V]
      if (t < options.min_len) log_probs.select(1, special.eos).fill_(kNegInf);
      auto [best, index] = log_probs.max(1);
      next = index.unsqueeze(1);
      next_scores = best.to(torch::kCPU).contiguous();
    } else {
      const auto [weight, bias] = model.output_layer();
      next = ops::projected_argmax(features, weight, bias);  // [rows, 1]
    }
    if (record) track.append(step_attention);
    const auto next_host = next.squeeze(1).to(torch::kCPU);
    const auto ids = next_host.accessor<int64_t, 1>();
    const float* step_scores = options.scores ? next_scores.data_ptr<float>() : nullptr;
    std::vector<int64_t> keep;
    for (std::size_t r = 0; r < active.size(); ++r) {
      const auto b = static_cast<std::size_t>(active[r]);
      if (done[b]) continue;  // finished earlier, still in the batch: its token is ignored
      Hypothesis& h = hyps[b];
      const int64_t id = ids[static_cast<int64_t>(r)];
      if (options.scores) {
        const float s = step_scores[r];
        h.token_scores.push_back(s);
        h.log_prob += s;
      }
      if (id == special.eos) {
        h.finished = true;
      } else {
        h.tokens.push_back(id);
      }
      if (h.finished || t + 1 >= max_len[b]) {
        done[b] = true;
        if (record) h.attention = start.attention(track, static_cast<int64_t>(r), static_cast<int64_t>(b));
      } else {
        keep.push_back(static_cast<int64_t>(r));
      }
    }
    if (keep.empty()) break;
    if ((active.size() - keep.size()) * 8 >= active.size()) {
      const auto index = torch::tensor(keep, torch::kLong);
      state->select(index.to(next.device()));
      if (record) track.select(index);
      next = next.index_select(0, index.to(next.device()));
      std::vector<int64_t> still;
      for (const int64_t r : keep) still.push_back(active[static_cast<std::size_t>(r)]);
      active.swap(still);
    }
    input = next;
  }
  std::vector<std::vector<Hypothesis>> out(static_cast<std::size_t>(batch));
  for (std::size_t b = 0; b < hyps.size(); ++b) {
    Hypothesis& h = hyps[b];
    const auto length = static_cast<int64_t>(h.tokens.size()) + (h.finished ? 1 : 0);
    h.score = normalized_score(h.log_prob, std::max<int64_t>(1, length), options.length_penalty, options.alpha);
    out[b].push_back(std::move(h));
  }
  return out;
}

std::vector<std::vector<Hypothesis>> BeamSearch::search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                                                        const torch::Tensor& src_valid_lens, SpecialTokens special,
                                                        const SearchOptions& options) const {
  torch::NoGradGuard no_grad;
  SearchStart start(model, src, src_valid_lens, options);
  const int64_t batch = src.size(0);
  const int64_t K = options.beam_size;
  const std::vector<int64_t>& max_len = start.max_len;
  const bool record = options.record_attention;
  const auto device = src.device();
  auto& state = start.state;

  // Rows: K per live sentence, sentence active[i] at rows i*K .. i*K+K-1. At the start only the first beam of a
  // sentence is live (the others have score -inf, so that the first step's candidates are distinct).
  std::vector<int64_t> active(static_cast<std::size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) active[static_cast<std::size_t>(b)] = b;
  state->select(torch::arange(batch, torch::kLong).repeat_interleave(K).to(device));
  std::vector<float> row_score(static_cast<std::size_t>(batch * K), kNegInf);
  for (int64_t b = 0; b < batch; ++b) row_score[static_cast<std::size_t>(b * K)] = 0.0f;
  std::vector<std::vector<int64_t>> row_tokens(static_cast<std::size_t>(batch * K));
  std::vector<std::vector<float>> row_token_scores(static_cast<std::size_t>(batch * K));
  std::vector<std::vector<Hypothesis>> finished(static_cast<std::size_t>(batch));
  AttentionTrack track;

  auto make_hypothesis = [&](int64_t row, int64_t token, float token_score, float log_prob, bool is_eos,
                             int64_t sentence) {
    Hypothesis h;
    h.tokens = row_tokens[static_cast<std::size_t>(row)];
    h.token_scores = row_token_scores[static_cast<std::size_t>(row)];
    if (!is_eos) h.tokens.push_back(token);
    h.token_scores.push_back(token_score);
    h.finished = is_eos;
    h.log_prob = log_prob;
    h.score = normalized_score(log_prob, static_cast<int64_t>(h.token_scores.size()), options.length_penalty,
                               options.alpha);
    if (record) h.attention = start.attention(track, row, sentence);
    return h;
  };

  auto input = torch::full({batch * K, 1}, special.bos, src.options().dtype(torch::kLong));
  for (int64_t t = 0; !active.empty(); ++t) {
    const auto n = static_cast<int64_t>(active.size());
    models::AttentionWeights step_attention;
    auto features = model.decode_features(input, *state, record ? &step_attention : nullptr);  // [n*K, 1, H]
    auto log_probs = torch::log_softmax(model.project(features).squeeze(1).to(torch::kFloat), -1);  // [n*K, V]
    const int64_t V = log_probs.size(1);
    if (t < options.min_len) log_probs.select(1, special.eos).fill_(kNegInf);
    if (record) track.append(step_attention);
    auto scores = torch::tensor(row_score, torch::kFloat).to(device).unsqueeze(1);  // [n*K, 1]
    auto candidates = (log_probs + scores).view({n, K * V});
    const int64_t width = std::min<int64_t>(2 * K, K * V);
    auto [top_values, top_index] = candidates.topk(width, 1);  // [n, 2K], sorted
    auto top_token_scores = log_probs.view({n, K * V}).gather(1, top_index);
    top_values = top_values.to(torch::kCPU);
    top_index = top_index.to(torch::kCPU);
    top_token_scores = top_token_scores.to(torch::kCPU);
    const auto values = top_values.accessor<float, 2>();
    const auto index = top_index.accessor<int64_t, 2>();
    const auto token_scores = top_token_scores.accessor<float, 2>();

    std::vector<int64_t> next_active, next_rows, next_tokens;
    std::vector<float> next_score;
    std::vector<std::vector<int64_t>> next_row_tokens;
    std::vector<std::vector<float>> next_row_token_scores;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t b = active[static_cast<std::size_t>(i)];
      auto& done_hyps = finished[static_cast<std::size_t>(b)];
      const bool last_step = t + 1 >= max_len[static_cast<std::size_t>(b)];
      std::vector<int64_t> beams;  // candidate columns that continue
      for (int64_t j = 0; j < width; ++j) {
        if (values[i][j] == kNegInf) continue;
        const int64_t row = i * K + index[i][j] / V, token = index[i][j] % V;
        if (token == special.eos) {
          if (j < K) done_hyps.push_back(make_hypothesis(row, token, token_scores[i][j], values[i][j], true, b));
        } else if (static_cast<int64_t>(beams.size()) < K) {
          beams.push_back(j);
        }
      }
      // Done when the best candidate of the step ends the sentence and n_best hypotheses are finished
      // (CTranslate2, JoeyNMT): stopping at beam_size finished ones instead (fairseq) can end a sentence on
      // short, improbable hypotheses before the probable one is finished.
      const bool best_is_eos = values[i][0] != kNegInf && index[i][0] % V == special.eos;
      if (best_is_eos && static_cast<int64_t>(done_hyps.size()) >= options.n_best) continue;
      if (last_step || beams.empty()) {
        // The maximum length: the live hypotheses end here, unfinished.
        for (const int64_t j : beams)
          done_hyps.push_back(make_hypothesis(i * K + index[i][j] / V, index[i][j] % V, token_scores[i][j],
                                              values[i][j], false, b));
        continue;
      }
      next_active.push_back(b);
      for (int64_t k = 0; k < K; ++k) {
        // Fewer live candidates than beams (a vocabulary smaller than the beam): the spare rows repeat the last
        // one with score -inf, so they are never chosen.
        const bool spare = k >= static_cast<int64_t>(beams.size());
        const int64_t j = beams[static_cast<std::size_t>(spare ? beams.size() - 1 : k)];
        const int64_t row = i * K + index[i][j] / V, token = index[i][j] % V;
        next_rows.push_back(row);
        next_tokens.push_back(token);
        next_score.push_back(spare ? kNegInf : values[i][j]);
        auto toks = row_tokens[static_cast<std::size_t>(row)];
        toks.push_back(token);
        auto scs = row_token_scores[static_cast<std::size_t>(row)];
        scs.push_back(token_scores[i][j]);
        next_row_tokens.push_back(std::move(toks));
        next_row_token_scores.push_back(std::move(scs));
      }
    }
    if (next_active.empty()) break;
    const auto rows = torch::tensor(next_rows, torch::kLong);
    state->select(rows.to(device));
    if (record) track.select(rows);
    active.swap(next_active);
    row_score.swap(next_score);
    row_tokens.swap(next_row_tokens);
    row_token_scores.swap(next_row_token_scores);
    input = torch::tensor(next_tokens, torch::kLong).to(device).unsqueeze(1);
  }

  std::vector<std::vector<Hypothesis>> out(static_cast<std::size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    auto& hyps = finished[static_cast<std::size_t>(b)];
    std::stable_sort(hyps.begin(), hyps.end(), [](const Hypothesis& x, const Hypothesis& y) { return x.score > y.score; });
    if (static_cast<int64_t>(hyps.size()) > options.n_best) hyps.resize(static_cast<std::size_t>(options.n_best));
    out[static_cast<std::size_t>(b)] = std::move(hyps);
  }
  return out;
}

std::unique_ptr<SearchStrategy> make_search(const SearchOptions& options) {
  if (options.beam_size == 1) return std::make_unique<GreedySearch>();
  return std::make_unique<BeamSearch>();
}

}  // namespace nmt::decoding
