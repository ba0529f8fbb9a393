#include "data/subword.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/preprocess.h"
#include "data/split.h"
#include "support/corpus_path.h"
#include "support/temp_dir.h"

using nmt::data::SubwordModel;
using nmt::data::SubwordTrainOptions;

namespace {

/// Preprocessed texts of one side of the training split of the first `n` pairs of fra.txt (seed 42, 5%/5%).
std::vector<std::string> training_side(int64_t n, bool source) {
  const std::string path = nmt::test::full_corpus_path();
  INFO(nmt::test::kCorpusMissing);
  REQUIRE_FALSE(path.empty());
  const auto corpus = nmt::data::read_corpus(path, n);
  const auto split = nmt::data::split_by_source(corpus.pairs, 0.05, 0.05, 42);
  std::vector<std::string> texts;
  for (int64_t i : split.train) {
    const auto& pair = corpus.pairs[static_cast<std::size_t>(i)];
    texts.push_back(nmt::data::join_tokens(source ? pair.source : pair.target));
  }
  return texts;
}

const std::vector<std::string> kTiny = {"go .", "hi .", "run !", "i am cold .", "i am hot .", "he is tall .",
                                        "she is happy .", "we are cold .", "they run ."};

}  // namespace

TEST_CASE("SubwordModel trained on the corpus", "[data][subword][slow]") {
  const auto model_type = GENERATE(std::string("unigram"), std::string("bpe"));
  const bool source = model_type == "unigram";  // one side each keeps the test short
  const auto texts = training_side(20000, source);
  REQUIRE(texts.size() > 15000);
  SubwordTrainOptions options;
  options.model_type = model_type;
  options.vocab_size = 2000;
  const SubwordModel model = SubwordModel::train(texts, options);
  INFO(model_type);

  SECTION("encode then decode returns every training sentence exactly") {
    const auto pieces = model.encode(texts);
    REQUIRE(pieces.size() == texts.size());
    const auto decoded = model.decode(pieces);
    REQUIRE(decoded.size() == texts.size());
    int64_t mismatches = 0, unknown = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (decoded[i] != texts[i] && mismatches++ < 3) CHECK(decoded[i] == texts[i]);
      unknown += std::count(pieces[i].begin(), pieces[i].end(), std::string("<unk>"));
    }
    CHECK(mismatches == 0);
    CHECK(unknown == 0);
    // Subwords: fewer pieces than characters, more than words.
    CHECK(pieces[0].size() >= nmt::data::tokenize(texts[0]).size());
  }
  SECTION("a word never seen in training becomes pieces, never <unk>") {
    const std::string text = "tom bought a zorglub for 123456789 euros ж .";
    const auto pieces = model.encode({text})[0];
    CHECK(std::find(pieces.begin(), pieces.end(), "<unk>") == pieces.end());
    CHECK(pieces.size() > nmt::data::tokenize(text).size());
    CHECK(model.decode({pieces})[0] == text);
  }
  SECTION("training twice from the same sentences gives the same model file") {
    CHECK(SubwordModel::train(texts, options).bytes() == model.bytes());
  }
  SECTION("pieces: the vocabulary without <unk>, with the 256 byte pieces") {
    const auto pieces = model.pieces();
    CHECK(static_cast<int64_t>(pieces.size()) == options.vocab_size - 1);
    CHECK(std::find(pieces.begin(), pieces.end(), "<unk>") == pieces.end());
    CHECK(std::count_if(pieces.begin(), pieces.end(), [](const std::string& p) { return p.rfind("<0x", 0) == 0; }) ==
          256);
  }
}

TEST_CASE("SubwordModel", "[data][subword]") {
  SubwordTrainOptions options;
  options.vocab_size = 300;
  const SubwordModel model = SubwordModel::train(kTiny, options);
  nmt::test::TempDir dir("subword");

  SECTION("save and load give the same segmentation") {
    const std::string path = (dir.path() / "src_spm.model").string();
    model.save(path);
    const SubwordModel again = SubwordModel::load(path);
    CHECK(again.bytes() == model.bytes());
    CHECK(again.encode(kTiny) == model.encode(kTiny));
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  }
  SECTION("sampling: a function of the seed, always decoding to the text") {
    std::vector<std::string> many;
    for (int i = 0; i < 20; ++i) many.insert(many.end(), kTiny.begin(), kTiny.end());
    const auto a = model.sample_encode(many, 0.1, 7), b = model.sample_encode(many, 0.1, 7),
               c = model.sample_encode(many, 0.1, 8);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(a != model.encode(many));
    CHECK(model.decode(a) == many);
    CHECK_THROWS_AS(model.sample_encode(many, 0.0, 7), std::invalid_argument);
  }
  SECTION("bad options and files are clear errors") {
    SubwordTrainOptions bad = options;
    bad.model_type = "word";
    CHECK_THROWS_WITH(SubwordModel::train(kTiny, bad), Catch::Contains("unigram") && Catch::Contains("word"));
    const std::string missing = (dir.path() / "missing.model").string();
    CHECK_THROWS_WITH(SubwordModel::load(missing), Catch::Contains(missing));
    const std::string corrupt = (dir.path() / "corrupt.model").string();
    std::ofstream(corrupt, std::ios::binary) << model.bytes().substr(0, model.bytes().size() / 2);
    CHECK_THROWS_WITH(SubwordModel::load(corrupt), Catch::Contains(corrupt) && Catch::Contains("SentencePiece"));
    CHECK_THROWS_WITH(SubwordModel::train({}, options), Catch::Contains("SentencePiece training failed"));
  }
}
