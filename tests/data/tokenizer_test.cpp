#include "data/tokenizer.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "support/temp_dir.h"

using nmt::data::SentencePair;
using nmt::data::SubwordModel;
using nmt::data::Tokenizer;
using nmt::data::Vocab;

namespace {

using Words = std::vector<std::vector<std::string>>;

const std::vector<std::string> kTexts = {"go .", "i am cold .", "i am hot .", "he is tall .", "she is happy .",
                                         "we are cold .", "they are tall ."};

Words words_of(const std::vector<std::string>& texts) {
  Words w;
  for (const auto& t : texts) w.push_back(nmt::data::tokenize(t));
  return w;
}

}  // namespace

TEST_CASE("Tokenizer", "[data][tokenizer]") {
  const Words words = words_of(kTexts);

  SECTION("word level: tokens are the words, text is them joined, vocabulary by frequency") {
    const Tokenizer word;
    CHECK_FALSE(word.is_subword());
    CHECK(word.encode(words) == words);
    CHECK(word.decode(words) == kTexts);
    const Vocab v = word.make_vocab(words, 2);
    CHECK(v.to_token(4) == ".");           // 7 times, the most frequent
    CHECK(v.to_index("go") == v.unk());    // once: below min_freq
    CHECK_THROWS_AS(word.subword_model(), std::logic_error);
    nmt::test::TempDir dir("tokenizer_word");
    word.save(dir.path().string(), "src");
    CHECK(std::filesystem::is_empty(dir.path()));
    CHECK_FALSE(Tokenizer::load(dir.path().string(), "src", "word").is_subword());
  }
  SECTION("subword: pieces, decoded back to the text; vocabulary = the model's pieces in order") {
    nmt::data::SubwordTrainOptions o;
    o.vocab_size = 290;
    const Tokenizer sp(SubwordModel::train(kTexts, o));
    const Words pieces = sp.encode(words);
    REQUIRE(pieces.size() == words.size());
    CHECK(pieces[0].front().rfind("\xe2\x96\x81", 0) == 0);  // "▁" marks a word start
    CHECK(sp.decode(pieces) == kTexts);
    const Vocab v = sp.make_vocab(words, 100);  // min_freq does not apply to pieces
    const auto model_pieces = sp.subword_model().pieces();
    REQUIRE(v.size() == static_cast<int64_t>(model_pieces.size()) + 4);
    for (std::size_t i = 0; i < model_pieces.size(); ++i) CHECK(v.to_token(static_cast<int64_t>(i) + 4) == model_pieces[i]);
    for (const auto& p : pieces)
      for (const auto& t : p) CHECK(v.to_index(t) != v.unk());

    nmt::test::TempDir dir("tokenizer_sp");
    sp.save(dir.path().string(), "tgt");
    CHECK(std::filesystem::exists(dir.path() / "tgt_spm.model"));
    CHECK(Tokenizer::load(dir.path().string(), "tgt", "sentencepiece").encode(words) == pieces);
    CHECK_THROWS_WITH(Tokenizer::load(dir.path().string(), "src", "sentencepiece"), Catch::Contains("src_spm.model"));
  }
  SECTION("tokenize_pairs keeps the order and line numbers; sampling is a function of the seed") {
    std::vector<SentencePair> pairs;
    for (std::size_t i = 0; i < words.size(); ++i) pairs.push_back({words[i], words[(i + 1) % words.size()], int64_t(i + 10)});
    nmt::data::SubwordTrainOptions o;
    o.vocab_size = 290;
    const Tokenizer sp(SubwordModel::train(kTexts, o));
    const auto out = nmt::data::tokenize_pairs(pairs, {3, 1}, sp, Tokenizer());
    REQUIRE(out.size() == 2);
    CHECK(out[0].line == 13);
    CHECK(out[1].source == sp.encode({words[1]})[0]);
    CHECK(out[1].target == words[2]);  // word level on the target side
    const auto a = nmt::data::tokenize_pairs(pairs, {0, 1, 2, 3, 4, 5, 6}, sp, sp, 0.5, 9);
    CHECK(a.size() == 7);
    const auto b = nmt::data::tokenize_pairs(pairs, {0, 1, 2, 3, 4, 5, 6}, sp, sp, 0.5, 9);
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].source == b[i].source);
      CHECK(sp.decode({a[i].source})[0] == kTexts[i]);
    }
  }
  SECTION("share_cut counts pairs whose source or target with <eos> exceeds num_steps") {
    const std::vector<SentencePair> pairs = {{{"a", "b"}, {"c"}, 1}, {{"a"}, {"b", "c", "d"}, 2}, {{"a"}, {"b"}, 3}};
    CHECK(nmt::data::share_cut(pairs, 4) == 0.0);
    CHECK(nmt::data::share_cut(pairs, 3) == Approx(1.0 / 3));
    CHECK(nmt::data::share_cut(pairs, 2) == Approx(2.0 / 3));
    CHECK(nmt::data::share_cut({}, 2) == 0.0);
  }
}
