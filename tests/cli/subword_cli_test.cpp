// Subword runs end to end through the real `nmt` executable, which loads SentencePiece (libnmt_spm.so, in its own
// link namespace) and LibTorch in one process: train, translate an unseen word, self-contained checkpoints, eval,
// and a damaged SentencePiece model.
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

/// A copy task in the corpus format: "Tom bought a W for N euros." -> "Tom a acheté un W pour N euros." with
/// random W and N, so that the model can only translate them by copying their pieces.
void write_copy_corpus(const fs::path& path, int pairs) {
  std::mt19937 rng(11);
  std::ofstream out(path);
  for (int i = 0; i < pairs; ++i) {
    const std::string w = random_word(rng, false), n = random_word(rng, true);
    out << "Tom bought a " << w << " for " << n << " euros.\tTom a acheté un " << w << " pour " << n << " euros.\n";
  }
}

/// A subword run of the copy task, trained once per test process (each SECTION pass reuses it) into a directory
/// of its own, removed when the process exits.
fs::path subword_run() {
  static std::unique_ptr<nmt::test::TempDir> dir;
  if (dir) return *dir / "run";
  auto fresh = std::make_unique<nmt::test::TempDir>("subword_cli");
  const fs::path corpus = *fresh / "copy_fra.txt", config = *fresh / "config.json", run = *fresh / "run";
  write_copy_corpus(corpus, 800);
  std::ofstream(config) << R"({"data": {"path": ")" << corpus.string() << R"(", "num_examples": null,
      "num_steps": 40, "valid_ratio": 0.05, "tokenizer": "sentencepiece", "sp_vocab_size": 320, "sp_joint": true},
    "model": {"type": "transformer", "num_hiddens": 64, "num_layers": 2, "num_heads": 4, "ffn_num_hiddens": 128,
              "dropout": 0.0, "pre_norm": true},
    "train": {"batch_size": 32, "num_epochs": 60, "lr": 0.003, "lr_schedule": "inverse_sqrt", "warmup_steps": 100,
              "device": "cpu", "seed": 5}})";
  const auto trained = nmt::test::run_shell(std::string(NMT_BINARY) + " train --config " + config.string() +
                                            " --output " + run.string() + " 2>&1");
  INFO(trained.out);
  REQUIRE(trained.code == 0);
  dir = std::move(fresh);
  return run;
}

}  // namespace

TEST_CASE("subword run end to end with the nmt executable", "[cli][subword][slow]") {
  const fs::path run = subword_run();
  nmt::test::TempDir dir("subword_cli_copy");
  const std::string nmt = NMT_BINARY;
  for (const char* f : {"src_spm.model", "tgt_spm.model", "best/src_spm.model", "best/tgt_spm.model",
                        "latest/tgt_spm.model"})
    CHECK(fs::exists(run / f));
  CHECK(nmt::common::read_text((run / "best/src_spm.model").string()) ==
        nmt::common::read_text((run / "src_spm.model").string()));

  // The checkpoint alone, in a directory with nothing else, run from there.
  const fs::path alone = dir / "alone";
  fs::create_directories(alone / "empty");
  fs::copy(run / "best", alone / "ckpt", fs::copy_options::recursive);
  const std::string sentence = "Tom bought a zorglub for 123456789 euros.";
  const auto out = nmt::test::run_shell("cd " + (alone / "empty").string() + " && echo '" + sentence + "' | " + nmt +
                                        " translate --checkpoint ../ckpt --format jsonl --beam-size 4 2>/dev/null");
  INFO(out.out);
  REQUIRE(out.code == 0);
  const auto j = nlohmann::json::parse(out.out);
  const auto tokens = j["hypotheses"][0]["tokens"].get<std::vector<std::string>>();
  const std::string text = j["hypotheses"][0]["text"];
  CHECK(std::find(tokens.begin(), tokens.end(), "<unk>") == tokens.end());
  CHECK(tokens.size() > 8);  // pieces, not words
  // The never-seen word and number come through as their pieces, copied.
  CHECK(text == "tom a acheté un zorglub pour 123456789 euros .");

  SECTION("eval scores the held-out split of a subword run") {
    const auto e = nmt::test::run_shell(nmt + " eval --bleu --checkpoint " + run.string() + " --split valid --json 2>/dev/null");
    INFO(e.out);
    REQUIRE(e.code == 0);
    const auto report = nlohmann::json::parse(e.out);
    CHECK(report["bleu"].get<double>() > 50.0);
    CHECK(report["unk_tokens"] == 0);
    // Hypotheses are text (pieces decoded), as the references are.
    const auto hyps = nmt::common::read_lines((run / "valid.hyp").string());
    REQUIRE_FALSE(hyps.empty());
    CHECK(hyps[0].find("\xe2\x96\x81") == std::string::npos);  // no '▁'
  }
  SECTION("a missing or damaged SentencePiece model is an error naming it") {
    fs::remove(alone / "ckpt/tgt_spm.model");
    auto r = nmt::test::run_shell("echo hi | " + nmt + " translate --checkpoint " + (alone / "ckpt").string() + " 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("tgt_spm.model") != std::string::npos);
    std::ofstream(alone / "ckpt/tgt_spm.model") << "not a model";
    r = nmt::test::run_shell("echo hi | " + nmt + " translate --checkpoint " + (alone / "ckpt").string() + " 2>&1");
    CHECK(r.code == 1);
    CHECK(r.out.find("tgt_spm.model") != std::string::npos);
    CHECK(r.out.find("SentencePiece") != std::string::npos);
  }
}
