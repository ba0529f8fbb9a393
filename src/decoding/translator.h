#pragma once
// Text in, text out: preprocessing, encoding, batched search and detokenisation around a trained model.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include "data/vocab.h"
#include "models/seq2seq.h"

namespace nmt::decoding {

struct TranslateOptions {
  int64_t max_len = 0;             ///< maximum output tokens per sentence; 0 = the model's num_steps
  int64_t batch_size = 128;        ///< sentences decoded together
  bool record_attention = false;   ///< keep attention weights in each Translation
};

/// One translated sentence.
struct Translation {
  std::vector<std::string> source_tokens;  ///< what the encoder saw: tokens (unknown ones as typed) + `<eos>`, truncated to num_steps
  std::vector<std::string> output_tokens;  ///< output without `<eos>`
  bool emitted_eos = false;                ///< false when the search stopped at max_len
  bool truncated = false;                  ///< the source had more than num_steps - 1 tokens
  /// With record_attention: kind ("encoder_self", "decoder_self", "encoder_decoder") ->
  /// `[layers, heads, queries, keys]` on the CPU. Queries of decoder kinds are the decoding steps
  /// (output tokens, then `<eos>` if emitted); keys are source positions, or decoder inputs (`<bos>`, outputs...).
  std::map<std::string, torch::Tensor> attention;
  /// Output tokens joined with single spaces.
  std::string text() const;
  /// Output tokens followed by `<eos>` when it was emitted: the labels of the decoder-side attention rows.
  std::vector<std::string> query_tokens() const;
  /// `{"source_tokens", "output_tokens", "attention": [output steps x source positions] (last layer, mean over
  /// heads, of the encoder–decoder attention), "layers": {kind: [layers][heads][queries][keys]}}`.
  nlohmann::json attention_json() const;
};

/// Translates with a trained model. The model is put in eval mode; gradients are off while decoding.
class Translator {
 public:
  /// `num_steps`: the source length the model was trained with (longer inputs are truncated, as in training).
  Translator(models::Seq2SeqModel model, data::Vocab src_vocab, data::Vocab tgt_vocab, int64_t num_steps,
             c10::Device device);

  /// Translates raw sentences (preprocessed as in training; see data::preprocess_nmt). An empty or
  /// whitespace-only sentence gives an empty translation without running the model; invalid UTF-8 is
  /// reported with a warning and gives an empty translation. Output order = input order.
  std::vector<Translation> translate(const std::vector<std::string>& sentences, const TranslateOptions& options) const;

  /// Translates already tokenised sources (as produced by data::tokenize).
  std::vector<Translation> translate_tokens(const std::vector<std::vector<std::string>>& sources,
                                            const TranslateOptions& options) const;

  const data::Vocab& src_vocab() const { return src_vocab_; }
  const data::Vocab& tgt_vocab() const { return tgt_vocab_; }

 private:
  models::Seq2SeqModel model_;
  data::Vocab src_vocab_;
  data::Vocab tgt_vocab_;
  int64_t num_steps_;
  c10::Device device_;
};

}  // namespace nmt::decoding
