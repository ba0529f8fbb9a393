#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/io.h"
#include "data/corpus.h"
#include "decoding/translator.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using nmt::common::Config;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("nmt_test_" + name);
  fs::remove_all(dir);
  return dir;
}

Config tiny_config(const std::string& type, int64_t epochs, double dropout) {
  Config c;
  c.data.path = NMT_SOURCE_DIR "/tests/fixtures/overfit_fra.txt";
  c.data.num_examples.reset();
  c.data.num_steps = 8;
  c.data.min_freq = 1;
  c.model.type = type;
  c.model.embed_size = 16;
  c.model.num_hiddens = 32;
  c.model.num_layers = 2;
  c.model.ffn_num_hiddens = 64;
  c.model.dropout = dropout;
  c.train.batch_size = 4;
  c.train.num_epochs = epochs;
  c.train.lr = 0.01;
  c.train.device = "cpu";
  c.train.seed = 3;
  return c;
}

std::vector<std::string> read_sources() {
  const auto corpus = nmt::data::read_corpus(NMT_SOURCE_DIR "/tests/fixtures/overfit_fra.txt", std::nullopt);
  std::vector<std::string> out;
  for (const auto& p : corpus.pairs) {
    std::string s;
    for (const auto& t : p.source) s += (s.empty() ? "" : " ") + t;
    out.push_back(s);
  }
  return out;
}

}  // namespace

TEST_CASE("training overfits a few pairs and checkpoints round-trip", "[train][.slow-ish]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer");
  const fs::path dir = fresh_dir("overfit_" + type);
  nmt::train::TrainOptions options;
  options.output_dir = dir.string();
  const auto result = nmt::train::train(tiny_config(type, 150, 0.0), options);
  INFO("model " << type);
  CHECK(result.epochs == 150);
  CHECK(result.train_loss < 0.05);

  for (const char* f : {"config.json", "src_vocab.txt", "tgt_vocab.txt", "metrics.jsonl", "latest/model.pt",
                        "latest/optimizer.pt", "best/model.pt", "best/config.json", "best/state.json"})
    CHECK(fs::exists(dir / f));
  CHECK(nmt::common::read_lines((dir / "metrics.jsonl").string()).size() == 150);

  // Every training pair translates exactly.
  auto ckpt = nmt::models::load_checkpoint((dir / "latest").string(), torch::kCPU);
  nmt::decoding::Translator translator(ckpt.model, ckpt.src_vocab, ckpt.tgt_vocab, 8, torch::kCPU);
  const auto corpus = nmt::data::read_corpus(NMT_SOURCE_DIR "/tests/fixtures/overfit_fra.txt", std::nullopt);
  const auto out = translator.translate(read_sources(), {});
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i].output_tokens == corpus.pairs[i].target);

  SECTION("a saved and reloaded checkpoint translates identically") {
    const fs::path copy = dir / "copy";
    nmt::train::save_checkpoint(copy.string(), *ckpt.model, nullptr,
                                nmt::train::TrainingState::from_json(ckpt.state, "state.json"), ckpt.config, ckpt.src_vocab,
                                ckpt.tgt_vocab);
    auto again = nmt::models::load_checkpoint(copy.string(), torch::kCPU);
    nmt::decoding::Translator t2(again.model, again.src_vocab, again.tgt_vocab, 8, torch::kCPU);
    const auto out2 = t2.translate(read_sources(), {});
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out2[i].output_tokens == out[i].output_tokens);
    for (const auto& p : ckpt.model->named_parameters())
      CHECK(torch::equal(p.value(), again.model->named_parameters()[p.key()]));
  }
  SECTION("a run directory is not overwritten without --overwrite") {
    CHECK_THROWS_WITH(nmt::train::train(tiny_config(type, 1, 0.0), options), Catch::Contains("--overwrite"));
  }
}

TEST_CASE("resuming ends with the same weights as an uninterrupted run", "[train]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq_attention", "transformer");
  const fs::path a = fresh_dir("resume_a_" + type), b = fresh_dir("resume_b_" + type);
  const Config config = tiny_config(type, 6, 0.2);  // dropout exercises the saved RNG state
  nmt::train::TrainOptions full;
  full.output_dir = a.string();
  nmt::train::train(config, full);

  nmt::train::TrainOptions first = full;
  first.output_dir = b.string();
  first.num_epochs = 3;
  nmt::train::train(config, first);
  nmt::train::TrainOptions rest = first;
  rest.resume = true;
  rest.num_epochs = 6;
  nmt::train::train(config, rest);

  auto wa = nmt::models::load_checkpoint((a / "latest").string(), torch::kCPU);
  auto wb = nmt::models::load_checkpoint((b / "latest").string(), torch::kCPU);
  CHECK(wb.epoch == 6);
  const auto pb = wb.model->named_parameters();
  for (const auto& p : wa.model->named_parameters()) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), pb[p.key()]));
  }
  CHECK(nmt::common::read_lines((b / "metrics.jsonl").string()).size() == 6);
}

TEST_CASE("bad checkpoints give clear errors", "[checkpoint]") {
  const fs::path dir = fresh_dir("badckpt");
  nmt::train::TrainOptions options;
  options.output_dir = dir.string();
  nmt::train::train(tiny_config("seq2seq", 1, 0.0), options);
  const fs::path ckpt = dir / "best";

  SECTION("missing directory") {
    CHECK_THROWS_WITH(nmt::models::load_checkpoint((dir / "nope").string(), torch::kCPU), Catch::Contains("not found"));
  }
  SECTION("truncated weights") {
    const std::string text = nmt::common::read_text((ckpt / "model.pt").string());
    std::ofstream((ckpt / "model.pt").string(), std::ios::binary | std::ios::trunc) << text.substr(0, text.size() / 2);
    CHECK_THROWS_WITH(nmt::models::load_checkpoint(ckpt.string(), torch::kCPU), Catch::Contains("model.pt"));
  }
  SECTION("config with other sizes than the weights") {
    auto j = nlohmann::json::parse(nmt::common::read_text((ckpt / "config.json").string()));
    j["model"]["num_hiddens"] = 24;
    nmt::common::write_text_atomic((ckpt / "config.json").string(), j.dump());
    CHECK_THROWS_WITH(nmt::models::load_checkpoint(ckpt.string(), torch::kCPU),
                      Catch::Contains("shape") && Catch::Contains("model.pt"));
  }
  SECTION("config of another model type") {
    auto j = nlohmann::json::parse(nmt::common::read_text((ckpt / "config.json").string()));
    j["model"]["type"] = "seq2seq_attention";
    nmt::common::write_text_atomic((ckpt / "config.json").string(), j.dump());
    CHECK_THROWS_WITH(nmt::models::load_checkpoint(ckpt.string(), torch::kCPU), Catch::Contains("model.pt"));
  }
  SECTION("vocabulary that does not match the model") {
    std::ofstream((ckpt / "tgt_vocab.txt").string(), std::ios::app) << "extra1\nextra2\n";
    CHECK_THROWS_WITH(nmt::models::load_checkpoint(ckpt.string(), torch::kCPU), Catch::Contains("shape"));
  }
}
