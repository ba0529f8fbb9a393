#pragma once
// Search strategies over a trained encoder–decoder: greedy and beam search (d2l.ai §10.8), both batched.
// Shaped after CTranslate2's SearchStrategy (GreedySearch / BeamSearch, include/ctranslate2/decoding.h):
// the models know nothing of search; a search drives encode / init_state / decode_features and reorders
// the decoder state by row indices (DecoderState::select).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "common/config.h"
#include "models/seq2seq.h"

namespace nmt::decoding {

/// How a finished hypothesis's log-probability is normalised by its length; the names are common::kPenaltyNone,
/// kPenaltyGnmt and kPenaltyAverage.
enum class LengthPenalty { kNone, kGnmt, kAverage };

/// "none" | "gnmt" | "average" -> LengthPenalty. Throws std::invalid_argument naming the value and the choices.
LengthPenalty parse_length_penalty(const std::string& name);

/// The score a search ranks finished hypotheses by: `log_prob` (natural log, summed over the `length` scored
/// tokens, `<eos>` included when emitted) under `penalty` with exponent `alpha`; "none" ignores alpha.
/// Throws std::invalid_argument when length < 1.
double normalized_score(double log_prob, int64_t length, LengthPenalty penalty, double alpha);

/// Settings of one search. Lengths are in tokens.
struct SearchOptions {
  int64_t beam_size = 1;    ///< hypotheses kept per sentence; 1 = greedy search
  int64_t n_best = 1;       ///< hypotheses returned per sentence, best first; at most beam_size
  LengthPenalty length_penalty = LengthPenalty::kNone;
  double alpha = 0.0;       ///< length-penalty exponent
  int64_t min_len = 0;      ///< `<eos>` is blocked until this many output tokens were produced
  /// Maximum decoding steps of a sentence (its output tokens, `<eos>` included when emitted): max_len_a · |x| +
  /// max_len_b (fairseq), |x| the source tokens with `<eos>`, rounded down; capped by max_len when max_len > 0,
  /// and by the decoder's positional limit (Seq2SeqModelImpl::max_target_positions). At least 1. A hypothesis
  /// that reaches it without `<eos>` ends unfinished.
  double max_len_a = 0.0;
  int64_t max_len_b = 200;
  int64_t max_len = 0;      ///< absolute cap on decoding steps; 0 = none
  /// Greedy search only: compute each token's log-probability (log-softmax over the vocabulary). Without it
  /// greedy search picks tokens with the fused projection + arg-max and leaves the scores at 0.
  /// Beam search always computes them.
  bool scores = false;
  bool record_attention = false;  ///< keep each hypothesis's attention weights (Hypothesis::attention)

  /// Throws std::invalid_argument naming the first bad field (beam_size < 1, n_best outside [1, beam_size],
  /// alpha < 0, min_len < 0, max_len_a < 0, max_len_b < 0, max_len < 0, or max_len_a = max_len_b = 0).
  void validate() const;
  /// The maximum output tokens for a source of `source_len` tokens (with `<eos>`) and a decoder that accepts
  /// `max_target_positions` positions (0 = no limit); see max_len_a.
  int64_t max_output_len(int64_t source_len, int64_t max_target_positions) const;
};

/// One output sequence of a search, with its scores.
struct Hypothesis {
  std::vector<int64_t> tokens;      ///< output ids, `<eos>` not included
  bool finished = false;            ///< ended with `<eos>` (false: stopped at the maximum length)
  double log_prob = 0.0;            ///< sum of token_scores (natural log)
  double score = 0.0;               ///< log_prob under the length penalty (what the search ranks by)
  /// Log-probability of each output token, then of `<eos>` when finished (empty for greedy search
  /// without SearchOptions::scores).
  std::vector<float> token_scores;
  /// With SearchOptions::record_attention, kind -> `[layers, heads, queries, keys]` on the CPU. Decoder kinds:
  /// one query per scored token (outputs, then `<eos>` when finished); "encoder_decoder" keys are the source
  /// positions with `<eos>`, "decoder_self" keys the decoder inputs (`<bos>`, outputs). "encoder_self" (the
  /// same for every hypothesis of a sentence): `[layers, heads, src_len, src_len]`.
  std::map<std::string, torch::Tensor> attention;
};

/// Token ids a search needs from the target vocabulary.
struct SpecialTokens {
  int64_t bos = 0;
  int64_t eos = 0;
};

/// A search over a batch of sources. Implementations run without gradients; the caller puts the model in
/// eval mode.
class SearchStrategy {
 public:
  virtual ~SearchStrategy() = default;
  /// `src` `[batch, src_steps]` int64 (padded), `src_valid_lens` `[batch]` int64 (tokens with `<eos>`), both on
  /// the model's device. Returns, per sentence in input order, up to options.n_best hypotheses, best first.
  /// The result of a sentence does not depend on the other sentences of the batch. Throws
  /// std::invalid_argument for bad options (SearchOptions::validate) or a source longer than the model accepts.
  virtual std::vector<std::vector<Hypothesis>> search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                                                      const torch::Tensor& src_valid_lens, SpecialTokens special,
                                                      const SearchOptions& options) const = 0;
};

/// Greedy search (d2l.ai §10.7 predict_seq2seq, batched): feeds back the arg-max token; a sentence stops at
/// `<eos>` or its maximum length; finished sentences leave the batch (DecoderState::select) once they are an
/// eighth of it. Tokens come from ops::projected_argmax (the fused projection + arg-max, which never writes the
/// logits), except with SearchOptions::scores and at steps before min_len, which take the arg-max of the
/// log-softmax (with `<eos>` masked before min_len). Returns one hypothesis per sentence (n_best and beam_size
/// are ignored).
class GreedySearch : public SearchStrategy {
 public:
  std::vector<std::vector<Hypothesis>> search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                                              const torch::Tensor& src_valid_lens, SpecialTokens special,
                                              const SearchOptions& options) const override;
};

/// Beam search (d2l.ai §10.8; batched as in fairseq's SequenceGenerator and CTranslate2's BeamSearch): the
/// batch × beam rows are decoded together; at each step the log-softmax of every live row is added to its
/// score and the best 2 × beam_size candidates over beam × vocabulary are taken, so that candidates ending in
/// `<eos>` (finalised when among the top beam_size) are replaced by live ones. A sentence is done when the best
/// candidate of a step ends in `<eos>` and it has n_best finished hypotheses (CTranslate2's and JoeyNMT's rule),
/// or when it reaches its maximum length (its live hypotheses are then kept as unfinished ones); done sentences
/// leave the batch. Live hypotheses are ranked by log-probability, finished ones by normalized_score.
class BeamSearch : public SearchStrategy {
 public:
  std::vector<std::vector<Hypothesis>> search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                                              const torch::Tensor& src_valid_lens, SpecialTokens special,
                                              const SearchOptions& options) const override;
};

/// GreedySearch when options.beam_size == 1, else BeamSearch.
std::unique_ptr<SearchStrategy> make_search(const SearchOptions& options);

}  // namespace nmt::decoding
