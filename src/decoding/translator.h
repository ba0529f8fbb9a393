#pragma once
// Text in, text out: preprocessing, encoding, batched search and detokenisation around a trained model.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include "common/config.h"
#include "data/preprocess.h"
#include "data/tokenizer.h"
#include "data/vocab.h"
#include "decoding/search.h"
#include "models/seq2seq.h"

namespace nmt::decoding {

/// How Translator::translate decodes.
struct TranslateOptions {
  SearchOptions search;       ///< greedy or beam search, lengths, scores, attention
  int64_t batch_size = 128;   ///< sentences decoded together (sorted by length first)
  /// Output text with d2l's punctuation spacing undone (data::detokenize_d2l) when the run used it
  /// (TextOptions::d2l_punctuation): "je suis chez moi." instead of "je suis chez moi .".
  bool detokenize = false;
};

/// One hypothesis of a translated sentence, as text.
struct TranslationHypothesis {
  std::vector<std::string> output_tokens;  ///< output tokens (words or subword pieces) without `<eos>`
  std::string output_text;                 ///< output_tokens as text (data::Tokenizer::decode; TranslateOptions::detokenize)
  bool emitted_eos = false;                ///< false when the search stopped at the maximum length
  double score = 0.0;                      ///< the search's ranking score (log_prob under the length penalty)
  double log_prob = 0.0;                   ///< sum of token_scores (natural log)
  std::vector<float> token_scores;         ///< per output token, then `<eos>` when emitted (see Hypothesis)
  /// With SearchOptions::record_attention: kind ("encoder_self", "decoder_self", "encoder_decoder") ->
  /// `[layers, heads, queries, keys]` on the CPU. Queries of decoder kinds are the decoding steps
  /// (output tokens, then `<eos>` if emitted); keys are source positions, or decoder inputs (`<bos>`, outputs...).
  std::map<std::string, torch::Tensor> attention;
  /// The output as text: output_text.
  const std::string& text() const { return output_text; }
  /// Output tokens followed by `<eos>` when it was emitted: the labels of the decoder-side attention rows.
  std::vector<std::string> query_tokens() const;
};

/// One translated sentence.
struct Translation {
  std::vector<std::string> source_tokens;  ///< what the encoder saw: words or pieces (unknown ones as typed) + `<eos>`
  std::vector<TranslationHypothesis> hypotheses;  ///< best first; empty for an empty or unreadable input
  /// The best hypothesis's text; "" when there is none.
  std::string text() const;
  /// `{"source_tokens", "output_tokens", "attention": [output steps x source positions] (last layer, mean over
  /// heads, of the encoder–decoder attention), "layers": {kind: [layers][heads][queries][keys]}}` for hypothesis
  /// `index` (an empty hypothesis when there is none).
  nlohmann::json attention_json(std::size_t index = 0) const;
};

/// SearchOptions from a config's `decode` section (n_best 1, no scores, no attention).
/// Throws std::invalid_argument for an unknown length_penalty.
SearchOptions search_options(const common::DecodeConfig& decode);

/// Translates with a trained model. The model is put in eval mode; gradients are off while decoding.
class Translator {
 public:
  /// Sources are translated whole, however long, up to the model's limit (max_source_positions). The tokenizers
  /// turn source words into the model's tokens and output tokens into text (word level by default); `text` is
  /// the training data's preprocessing (data::text_options of the run's config), applied to raw sentences.
  Translator(models::Seq2SeqModel model, data::Vocab src_vocab, data::Vocab tgt_vocab, c10::Device device,
             data::Tokenizer src_tokenizer = {}, data::Tokenizer tgt_tokenizer = {}, data::TextOptions text = {});

  /// Translates raw sentences (preprocessed as in training with data::preprocess and the text options). An empty or
  /// whitespace-only sentence gives a translation without hypotheses, without running the model; invalid UTF-8
  /// is reported with a warning naming its line (`first_line` + index) and gives one too. Output order = input
  /// order. Throws std::runtime_error naming the line and the limit when a source is longer than the model
  /// accepts, std::invalid_argument for bad options.
  std::vector<Translation> translate(const std::vector<std::string>& sentences, const TranslateOptions& options,
                                     std::size_t first_line = 1) const;

  /// Translates sources already split into words (as produced by data::tokenize); as translate.
  std::vector<Translation> translate_tokens(const std::vector<std::vector<std::string>>& sources,
                                            const TranslateOptions& options, std::size_t first_line = 1) const;

  const data::Vocab& src_vocab() const { return src_vocab_; }
  const data::Vocab& tgt_vocab() const { return tgt_vocab_; }

 private:
  models::Seq2SeqModel model_;
  data::Vocab src_vocab_;
  data::Vocab tgt_vocab_;
  c10::Device device_;
  data::Tokenizer src_tokenizer_, tgt_tokenizer_;
  data::TextOptions text_;
};

}  // namespace nmt::decoding
