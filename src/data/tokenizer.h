#pragma once
// How one language's preprocessed text becomes the model's tokens and back: d2l's words (d2l.ai §10.5
// tokenize_nmt) or SentencePiece pieces (data::SubwordModel), with the vocabulary that goes with each.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/corpus.h"
#include "data/subword.h"
#include "data/vocab.h"

namespace nmt::data {

/// Word-level (the default) or subword tokenisation of one language. Input is always a sentence's words as
/// data::tokenize gives them (preprocessed with preprocess_nmt, split on spaces); output tokens are the words
/// themselves or the SentencePiece pieces of the words joined by single spaces. Copies share the subword model.
class Tokenizer {
 public:
  /// The word-level tokenizer: tokens are the words.
  Tokenizer() = default;
  /// Subword tokenisation with `model`.
  explicit Tokenizer(SubwordModel model);

  bool is_subword() const { return model_.has_value(); }
  /// The subword model. Throws std::logic_error for the word-level tokenizer.
  const SubwordModel& subword_model() const;

  /// Model tokens of each word list (`[sentences][tokens]` in, the same number of sentences out). Throws
  /// std::runtime_error on a SentencePiece error.
  std::vector<std::vector<std::string>> encode(const std::vector<std::vector<std::string>>& words) const;
  /// As encode, with segmentations sampled with smoothing `alpha` from a generator seeded with `seed` (subword
  /// regularisation, Kudo 2018); the word-level tokenizer ignores both. Throws std::invalid_argument if alpha <= 0.
  std::vector<std::vector<std::string>> sample(const std::vector<std::vector<std::string>>& words, double alpha,
                                               uint32_t seed) const;
  /// Text of each token list: tokens joined by spaces (words), or the pieces decoded (`▁` to spaces, bytes to
  /// characters). Either gives back the preprocessed sentence encode started from.
  std::vector<std::string> decode(const std::vector<std::vector<std::string>>& tokens) const;

  /// The vocabulary for this tokenizer: every piece of the subword model in its order (after nmt's reserved
  /// tokens), or, word level, Vocab::build over `training_tokens` with `min_freq`.
  Vocab make_vocab(const std::vector<std::vector<std::string>>& training_tokens, int64_t min_freq) const;

  /// File name of a side's subword model in a run or checkpoint directory: "<side>_spm.model" (side "src"/"tgt").
  static std::string model_file(const std::string& side);
  /// Writes DIR/model_file(side) for a subword tokenizer (atomically); nothing for the word level.
  void save(const std::string& dir, const std::string& side) const;
  /// The tokenizer `kind` (a common::kTokenizers name) of a side: word level, or DIR/model_file(side) loaded.
  /// Throws std::runtime_error naming the file when it is missing or corrupted.
  static Tokenizer load(const std::string& dir, const std::string& side, const std::string& kind);

 private:
  std::optional<SubwordModel> model_;
};

/// Source and target tokenizer of a run.
struct Tokenizers {
  Tokenizer source, target;
};

/// The tokenizers `data` asks for, built on the training sentences (words): word level for data.tokenizer "word";
/// for "sentencepiece", SentencePiece model(s) trained with data.sp_model_type, sp_vocab_size and
/// sp_character_coverage (`threads` trainer threads): one joint model on both sides' sentences with data.sp_joint,
/// else one per side. Throws std::runtime_error with SentencePiece's message when training fails.
Tokenizers make_tokenizers(const common::DataConfig& data, const std::vector<std::vector<std::string>>& src_sentences,
                           const std::vector<std::vector<std::string>>& tgt_sentences, int threads = 1);

/// pairs[indices] with each side's words turned into model tokens by its tokenizer (line numbers kept). With
/// alpha > 0 the segmentations are sampled (Tokenizer::sample) from seeds derived from `seed` (source and target
/// differ), else the best ones. Throws std::out_of_range for an index outside `pairs`.
std::vector<SentencePair> tokenize_pairs(const std::vector<SentencePair>& pairs, const std::vector<int64_t>& indices,
                                         const Tokenizer& src, const Tokenizer& tgt, double alpha = 0.0,
                                         uint32_t seed = 0);

/// Share (0..1) of `pairs` whose source or target, with `<eos>`, is longer than num_steps (so it is cut).
double share_cut(const std::vector<SentencePair>& pairs, int64_t num_steps);

}  // namespace nmt::data
