#include "data/tokenizer.h"

#include <algorithm>
#include <stdexcept>

#include "common/config.h"
#include "data/preprocess.h"

namespace nmt::data {

namespace {

std::vector<std::string> joined(const std::vector<std::vector<std::string>>& words) {
  std::vector<std::string> texts;
  texts.reserve(words.size());
  for (const auto& w : words) texts.push_back(join_tokens(w));
  return texts;
}

}  // namespace

Tokenizer::Tokenizer(SubwordModel model) : model_(std::move(model)) {}

const SubwordModel& Tokenizer::subword_model() const {
  if (!model_) throw std::logic_error("Tokenizer::subword_model: a word-level tokenizer has no subword model");
  return *model_;
}

std::vector<std::vector<std::string>> Tokenizer::encode(const std::vector<std::vector<std::string>>& words) const {
  return model_ ? model_->encode(joined(words)) : words;
}

std::vector<std::vector<std::string>> Tokenizer::sample(const std::vector<std::vector<std::string>>& words,
                                                        double alpha, uint32_t seed) const {
  return model_ ? model_->sample_encode(joined(words), alpha, seed) : words;
}

std::vector<std::string> Tokenizer::decode(const std::vector<std::vector<std::string>>& tokens) const {
  return model_ ? model_->decode(tokens) : joined(tokens);
}

Vocab Tokenizer::make_vocab(const std::vector<std::vector<std::string>>& training_tokens, int64_t min_freq) const {
  return model_ ? Vocab::from_tokens(model_->pieces()) : Vocab::build(training_tokens, min_freq);
}

std::string Tokenizer::model_file(const std::string& side) { return side + "_spm.model"; }

void Tokenizer::save(const std::string& dir, const std::string& side) const {
  if (model_) model_->save(dir + "/" + model_file(side));
}

Tokenizer Tokenizer::load(const std::string& dir, const std::string& side, const std::string& kind) {
  if (kind == common::kTokenizerWord) return Tokenizer();
  if (kind != common::kTokenizerSentencePiece)
    throw std::runtime_error("unknown tokenizer \"" + kind + "\" for " + dir);
  return Tokenizer(SubwordModel::load(dir + "/" + model_file(side)));
}

Tokenizers make_tokenizers(const common::DataConfig& data, const std::vector<std::vector<std::string>>& src_sentences,
                           const std::vector<std::vector<std::string>>& tgt_sentences, int threads) {
  if (data.tokenizer != common::kTokenizerSentencePiece) return {};
  SubwordTrainOptions o;
  o.model_type = data.sp_model_type;
  o.vocab_size = data.sp_vocab_size;
  o.character_coverage = data.sp_character_coverage;
  o.num_threads = std::max(1, threads);
  if (data.sp_joint) {
    auto both = joined(src_sentences);
    const auto tgt = joined(tgt_sentences);
    both.insert(both.end(), tgt.begin(), tgt.end());
    const Tokenizer joint(SubwordModel::train(both, o));
    return {joint, joint};
  }
  return {Tokenizer(SubwordModel::train(joined(src_sentences), o)), Tokenizer(SubwordModel::train(joined(tgt_sentences), o))};
}

std::vector<SentencePair> tokenize_pairs(const std::vector<SentencePair>& pairs, const std::vector<int64_t>& indices,
                                         const Tokenizer& src, const Tokenizer& tgt, double alpha, uint32_t seed) {
  std::vector<std::vector<std::string>> src_words, tgt_words;
  src_words.reserve(indices.size()), tgt_words.reserve(indices.size());
  for (int64_t i : indices) {
    const SentencePair& p = pairs.at(static_cast<std::size_t>(i));
    src_words.push_back(p.source), tgt_words.push_back(p.target);
  }
  const auto src_tokens = alpha > 0 ? src.sample(src_words, alpha, seed) : src.encode(src_words);
  const auto tgt_tokens = alpha > 0 ? tgt.sample(tgt_words, alpha, seed ^ 0x5bd1e995u) : tgt.encode(tgt_words);
  std::vector<SentencePair> out(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    out[k].source = src_tokens[k];
    out[k].target = tgt_tokens[k];
    out[k].line = pairs[static_cast<std::size_t>(indices[k])].line;
  }
  return out;
}

double share_cut(const std::vector<SentencePair>& pairs, int64_t num_steps) {
  if (pairs.empty()) return 0.0;
  int64_t cut = 0;
  for (const auto& p : pairs)
    cut += static_cast<int64_t>(p.source.size()) + 1 > num_steps || static_cast<int64_t>(p.target.size()) + 1 > num_steps;
  return static_cast<double>(cut) / static_cast<double>(pairs.size());
}

}  // namespace nmt::data
