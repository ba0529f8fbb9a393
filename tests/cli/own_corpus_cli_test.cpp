// A user's own corpus through the real `nmt` executable: train, valid and test files in another direction
// (French -> English), cased, without d2l's spacing, with SentencePiece; translate and eval as a new user would.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/io.h"
#include "support/random_word.h"
#include "support/shell.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

using nmt::test::random_word;

/// `n` cased pairs "NAME a acheté un W pour N euros." / "NAME bought a W for N euros." (random W and N, NAME one of
/// Tom, Mary, Ken), French sources and English targets.
std::vector<std::pair<std::string, std::string>> copy_pairs(std::mt19937& rng, int n) {
  const char* names[] = {"Tom", "Mary", "Ken"};
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < n; ++i) {
    const std::string name = names[i % 3], w = random_word(rng, false), num = random_word(rng, true);
    out.emplace_back(name + " a achet\xC3\xA9 un " + w + " pour " + num + " euros.",
                     name + " bought a " + w + " for " + num + " euros.");
  }
  return out;
}

void write_pair_files(const std::vector<std::pair<std::string, std::string>>& pairs, const fs::path& src,
                      const fs::path& tgt) {
  std::ofstream s(src), t(tgt);
  for (const auto& [fr, en] : pairs) s << fr << "\n", t << en << "\n";
}

/// The files of the run and the run itself, trained once per test process.
struct OwnRun {
  std::unique_ptr<nmt::test::TempDir> dir;
  fs::path run, test_fr, test_en;
  std::string log;
};

const OwnRun& own_run() {
  static OwnRun r;
  if (r.dir) return r;
  auto dir = std::make_unique<nmt::test::TempDir>("own_corpus_cli");
  std::mt19937 rng(23);
  write_pair_files(copy_pairs(rng, 800), *dir / "train.fr", *dir / "train.en");
  {
    std::ofstream valid(*dir / "valid.tsv");
    for (const auto& [fr, en] : copy_pairs(rng, 24)) valid << fr << "\t" << en << "\n";
  }
  r.test_fr = *dir / "test.fr", r.test_en = *dir / "test.en";
  write_pair_files(copy_pairs(rng, 12), r.test_fr, r.test_en);
  const fs::path config = *dir / "config.json";
  const std::string d = dir->path().string();
  std::ofstream(config) << R"({"data": {"train": {"source": ")" << d << R"(/train.fr", "target": ")" << d
                        << R"(/train.en"}, "valid": ")" << d << R"(/valid.tsv", "test": {"source": ")" << d
                        << R"(/test.fr", "target": ")" << d << R"(/test.en"},
      "src_lang": "fr", "tgt_lang": "en", "lowercase": false, "d2l_punctuation": false, "num_examples": null,
      "num_steps": 40, "tokenizer": "sentencepiece", "sp_vocab_size": 320, "sp_joint": true},
    "model": {"type": "transformer", "num_hiddens": 64, "num_layers": 2, "num_heads": 4, "ffn_num_hiddens": 128,
              "dropout": 0.0, "pre_norm": true},
    "train": {"batch_size": 32, "num_epochs": 60, "lr": 0.003, "lr_schedule": "inverse_sqrt", "warmup_steps": 100,
              "device": "cpu", "seed": 5, "valid_bleu_sentences": 0}})";
  r.run = *dir / "run";
  const auto trained = nmt::test::run_shell(std::string(NMT_BINARY) + " train --config " + config.string() +
                                            " --output " + r.run.string() + " 2>&1");
  INFO(trained.out);
  REQUIRE(trained.code == 0);
  r.log = trained.out;
  r.dir = std::move(dir);
  return r;
}

}  // namespace

TEST_CASE("own corpus: pair and TSV files, French to English, cased, end to end", "[cli][own_corpus][slow]") {
  const OwnRun& r = own_run();
  const std::string nmt = NMT_BINARY;
  CHECK_THAT(r.log, Catch::Contains("[data] fr-en: ") && Catch::Contains("valid 24 (") && Catch::Contains("test 12 ("));
  // The held-out files of the run are the given ones, as written.
  CHECK(nmt::common::read_lines((r.run / "test.src").string()) == nmt::common::read_lines(r.test_fr.string()));
  CHECK(nmt::common::read_lines((r.run / "test.ref").string()) == nmt::common::read_lines(r.test_en.string()));

  SECTION("cased text comes out as written") {
    const auto out = nmt::test::run_shell("echo 'Tom a achet\xC3\xA9 un zorglub pour 123456789 euros.' | " + nmt +
                                          " translate --checkpoint " + r.run.string() + " --beam-size 4 2>/dev/null");
    INFO(out.out);
    REQUIRE(out.code == 0);
    CHECK(out.out == "Tom bought a zorglub for 123456789 euros.\n");
    // --detokenize changes nothing for a run without d2l's spacing.
    const auto same = nmt::test::run_shell("echo 'Mary a achet\xC3\xA9 un zorglub pour 42 euros.' | " + nmt +
                                           " translate --detokenize --checkpoint " + r.run.string() + " 2>/dev/null");
    CHECK(same.out == "Mary bought a zorglub for 42 euros.\n");
  }
  SECTION("eval scores detokenised, cased output with sacreBLEU's signatures") {
    const auto e = nmt::test::run_shell(nmt + " eval --bleu --json --checkpoint " + r.run.string() +
                                        " --split test 2>/dev/null");
    INFO(e.out);
    REQUIRE(e.code == 0);
    const auto report = nlohmann::json::parse(e.out);
    CHECK(report["scoring"] == "detokenized");
    CHECK(report["lowercase"] == false);
    CHECK(report["src_lang"] == "fr");
    CHECK(report["tgt_lang"] == "en");
    CHECK(report["bleu_signature"].get<std::string>().rfind("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:", 0) == 0);
    CHECK(report["chrf2_signature"].get<std::string>().rfind("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:", 0) == 0);
    CHECK(report["bleu"].get<double>() > 50.0);
    CHECK(report["chrf2"].get<double>() > 80.0);
    const auto hyps = nmt::common::read_lines((r.run / "test.hyp").string());
    const auto refs = nmt::common::read_lines(r.test_en.string());
    REQUIRE(hyps.size() == refs.size());
    for (std::size_t i = 0; i < hyps.size(); ++i) CHECK(hyps[i].substr(0, 3) == refs[i].substr(0, 3));  // names, cased
    // --lowercase is recorded.
    const auto lc = nlohmann::json::parse(nmt::test::run_shell(nmt + " eval --bleu --json --lowercase --checkpoint " +
                                                               r.run.string() + " --split test 2>/dev/null").out);
    CHECK(lc["bleu_signature"].get<std::string>().rfind("nrefs:1|case:lc|", 0) == 0);
    CHECK(lc["bleu"].get<double>() >= report["bleu"].get<double>());
  }
  SECTION("eval --tokenized reproduces the training's validation BLEU") {
    const auto lines = nmt::common::read_lines((r.run / "metrics.jsonl").string());
    REQUIRE_FALSE(lines.empty());
    const auto last = nlohmann::json::parse(lines.back());
    const auto e = nmt::test::run_shell(nmt + " eval --bleu --json --tokenized --beam-size 1 --checkpoint " +
                                        (r.run / "latest").string() + " --split valid 2>/dev/null");
    INFO(e.out);
    REQUIRE(e.code == 0);
    const auto report = nlohmann::json::parse(e.out);
    CHECK(report["scoring"] == "tokenized");
    CHECK(report["sentences"] == last["valid_bleu_sentences"]);
    CHECK_THAT(report["bleu"].get<double>(), Catch::Matchers::WithinAbs(last["valid_bleu"].get<double>(), 1e-9));
  }
}

TEST_CASE("own corpus: misaligned pair files are an error naming both", "[cli][own_corpus]") {
  const nmt::test::TempDir dir("own_corpus_misaligned");
  std::ofstream(dir / "a.fr") << "Bonjour.\nMerci.\nSalut.\n";
  std::ofstream(dir / "a.en") << "Hello.\nThanks.\n";
  const fs::path config = dir / "config.json";
  std::ofstream(config) << R"({"data": {"train": {"source": ")" << (dir / "a.fr").string() << R"(", "target": ")"
                        << (dir / "a.en").string() << R"("}}})";
  const auto r = nmt::test::run_shell(std::string(NMT_BINARY) + " train --config " + config.string() + " --output " +
                                      (dir / "run").string() + " 2>&1");
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("a.fr has 3 lines but") && Catch::Contains("a.en has 2"));
}

TEST_CASE("nmt split writes the config's grouped split as TSV files of the corpus lines", "[cli][own_corpus]") {
  const nmt::test::TempDir dir("own_corpus_split");
  const std::string corpus = std::string(NMT_SOURCE_DIR) + "/tests/fixtures/tiny_fra.txt";
  const fs::path config = dir / "config.json";
  std::ofstream(config) << R"({"data": {"path": ")" << corpus
                        << R"(", "num_examples": null, "valid_ratio": 0.25, "test_ratio": 0.25}})";
  const auto r = nmt::test::run_shell(std::string(NMT_BINARY) + " split --config " + config.string() + " --output " +
                                      (dir / "split").string() + " 2>&1");
  INFO(r.out);
  REQUIRE(r.code == 0);
  std::vector<std::string> all;
  std::vector<std::size_t> sizes;
  for (const char* part : {"train", "valid", "test"}) {
    const auto lines = nmt::common::read_lines((dir / "split" / (std::string(part) + ".tsv")).string());
    sizes.push_back(lines.size());
    all.insert(all.end(), lines.begin(), lines.end());
  }
  // The three parts are the corpus's lines, each exactly once, as written; every part holds some.
  auto expected = nmt::common::read_lines(corpus);
  std::sort(all.begin(), all.end());
  std::sort(expected.begin(), expected.end());
  CHECK(all == expected);
  for (std::size_t n : sizes) CHECK(n > 0);
  // A config whose held-out sets are files already is refused.
  const fs::path files_config = dir / "files.json";
  std::ofstream(files_config) << R"({"data": {"train": ")" << (dir / "split" / "train.tsv").string()
                              << R"(", "valid": ")" << (dir / "split" / "valid.tsv").string() << R"("}})";
  const auto refused = nmt::test::run_shell(std::string(NMT_BINARY) + " split --config " + files_config.string() +
                                            " --output " + (dir / "again").string() + " 2>&1");
  CHECK(refused.code == 2);
  CHECK_THAT(refused.out, Catch::Contains("data.valid"));
}
