#include <catch2/catch.hpp>

#include <unistd.h>

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
  // The process id keeps concurrent test processes (ctest -j2, several checkouts) out of each other's way.
  const fs::path dir = fs::temp_directory_path() / ("nmt_test_" + name + "_" + std::to_string(::getpid()));
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

/// The lines of a run's metrics.jsonl, parsed.
std::vector<nlohmann::json> read_metrics(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  for (const auto& line : nmt::common::read_lines((dir / "metrics.jsonl").string()))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

/// A checkpoint's state.json, parsed.
nlohmann::json read_state(const fs::path& checkpoint) {
  return nlohmann::json::parse(nmt::common::read_text((checkpoint / "state.json").string()));
}

/// Checks that two runs' latest/ checkpoints hold bit-identical weights.
void check_same_weights(const fs::path& a, const fs::path& b) {
  auto wa = nmt::models::load_checkpoint((a / "latest").string(), torch::kCPU);
  auto wb = nmt::models::load_checkpoint((b / "latest").string(), torch::kCPU);
  const auto pb = wb.model->named_parameters();
  for (const auto& p : wa.model->named_parameters()) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), pb[p.key()]));
  }
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

TEST_CASE("training overfits a few pairs and checkpoints round-trip", "[train][slow]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer");
  const fs::path dir = fresh_dir("overfit_" + type);
  nmt::train::TrainOptions options;
  options.output_dir = dir.string();
  const auto result = nmt::train::train(tiny_config(type, 150, 0.0), options);
  INFO("model " << type);
  CHECK(result.epochs == 150);
  CHECK(result.train_loss < 0.05);

  for (const char* f : {"config.json", "src_vocab.txt", "tgt_vocab.txt", "metrics.jsonl", "timing.jsonl",
                        "latest/model.pt", "latest/optimizer.pt", "best/model.pt", "best/config.json",
                        "best/state.json"})
    CHECK(fs::exists(dir / f));
  CHECK(!fs::exists(dir / "curves.png"));  // drawing is the CLI's (TrainOptions::write_curves)
  const auto metrics = read_metrics(dir);
  REQUIRE(metrics.size() == 150);
  CHECK(metrics.front().at("train_loss").get<double>() > 1.0);  // it did start from an untrained model
  CHECK(metrics.back().at("train_loss").get<double>() == result.train_loss);

  // Every training pair translates exactly.
  auto ckpt = nmt::models::load_checkpoint((dir / "latest").string(), torch::kCPU);
  nmt::decoding::Translator translator(ckpt.model, ckpt.src_vocab, ckpt.tgt_vocab, torch::kCPU);
  const auto corpus = nmt::data::read_corpus(NMT_SOURCE_DIR "/tests/fixtures/overfit_fra.txt", std::nullopt);
  const auto out = translator.translate(read_sources(), {});
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i].hypotheses.at(0).output_tokens == corpus.pairs[i].target);
  nmt::decoding::TranslateOptions beam;
  beam.search.beam_size = 4;
  const auto beam_out = translator.translate(read_sources(), beam);
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(beam_out[i].text() == out[i].text());

  SECTION("a saved and reloaded checkpoint translates identically") {
    const fs::path copy = dir / "copy";
    nmt::train::save_checkpoint(copy.string(), *ckpt.model, nullptr,
                                nmt::train::TrainingState::from_json(ckpt.state, "state.json"), ckpt.config,
                                ckpt.src_vocab, ckpt.tgt_vocab);
    auto again = nmt::models::load_checkpoint(copy.string(), torch::kCPU);
    nmt::decoding::Translator t2(again.model, again.src_vocab, again.tgt_vocab, torch::kCPU);
    const auto out2 = t2.translate(read_sources(), {});
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out2[i].text() == out[i].text());
    for (const auto& p : ckpt.model->named_parameters())
      CHECK(torch::equal(p.value(), again.model->named_parameters()[p.key()]));
  }
  SECTION("a run directory is not overwritten without --overwrite") {
    CHECK_THROWS_WITH(nmt::train::train(tiny_config(type, 1, 0.0), options), Catch::Contains("--overwrite"));
  }
}

TEST_CASE("a run stopped mid-epoch resumes to the same weights and metrics as an uninterrupted run", "[train]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq_attention", "transformer");
  INFO("model " << type);
  Config config = tiny_config(type, 6, 0.2);  // dropout exercises the saved RNG state
  config.train.batch_size = 2;                // 4 batches per epoch
  config.train.valid_every_steps = 3;         // mid-epoch lines and a smoothing window that spans the stop
  const fs::path a = fresh_dir("stop_a_" + type), b = fresh_dir("stop_b_" + type);
  nmt::train::TrainOptions full;
  full.output_dir = a.string();
  nmt::train::train(config, full);

  nmt::train::TrainOptions part = full;
  part.output_dir = b.string();
  constexpr double kOneStep = 1e-6;  // minutes (60 µs): the limit is reached after the first step of an invocation
  SECTION("a time-limited first invocation") {
    part.max_minutes = kOneStep;
    const auto first = nmt::train::train(config, part);
    CHECK(first.epochs == 0);
  }
  SECTION("an epoch boundary, then a time-limited invocation") {
    part.num_epochs = 2;
    nmt::train::train(config, part);
    CHECK(read_state(b / "latest").at("batches_done") == 0);
    part.resume = true;
    part.num_epochs = 6;
    part.max_minutes = kOneStep;
    nmt::train::train(config, part);
  }
  // The stopped run recorded a position inside an epoch that is not marked done.
  const auto stopped = read_state(b / "latest");
  CHECK(stopped.at("batches_done").get<int64_t>() == 1);
  CHECK(stopped.at("step").get<int64_t>() == 4 * stopped.at("epoch").get<int64_t>() + 1);

  part.resume = true;
  part.num_epochs = 6;
  part.max_minutes = 0.0;  // the limit applies to each invocation; this one has none
  const auto rest = nmt::train::train(config, part);
  CHECK(rest.epochs == 6);
  CHECK(read_state(b / "latest").at("epoch") == 6);
  check_same_weights(a, b);
  const std::string ma = nmt::common::read_text((a / "metrics.jsonl").string());
  CHECK(ma == nmt::common::read_text((b / "metrics.jsonl").string()));
  CHECK(read_metrics(b).size() == 6 + 6);  // 6 epoch ends + steps 3, 6, 9, 15, 18, 21 (12 and 24 end epochs)
}

TEST_CASE("lr_schedule linear decays to 0 over the epochs of train.num_epochs", "[train]") {
  Config config = tiny_config("transformer", 3, 0.0);
  config.train.batch_size = 2;  // 4 batches per epoch, 12 updates in all
  config.train.lr_schedule = "linear";
  config.train.warmup_steps = 2;
  config.train.max_minutes = 1e6;  // a time budget that is far from spent: the epochs decide
  const fs::path dir = fresh_dir("linear_lr");
  nmt::train::TrainOptions options;
  options.output_dir = dir.string();
  nmt::train::train(config, options);
  const auto lines = read_metrics(dir);
  REQUIRE(lines.size() == 3);
  // The rate of update s (1-based) is lr · (1 − (s − 1) / 12) after the warm-up.
  for (int64_t e = 0; e < 3; ++e) {
    const int64_t s = 4 * (e + 1);
    INFO("epoch " << e + 1);
    CHECK(lines[static_cast<std::size_t>(e)].at("step").get<int64_t>() == s);
    CHECK_THAT(lines[static_cast<std::size_t>(e)].at("lr").get<double>(),
               Catch::Matchers::WithinRel(0.01 * (1.0 - static_cast<double>(s - 1) / 12.0), 1e-9));
  }
  fs::remove_all(dir);
}

TEST_CASE("subword sampling (sp_alpha) changes training and is reproduced by a resumed run", "[train][subword]") {
  Config config = tiny_config("transformer", 4, 0.0);
  config.data.tokenizer = "sentencepiece";
  config.data.sp_vocab_size = 300;
  config.data.sp_joint = true;
  config.data.num_steps = 16;
  config.data.sp_alpha = 0.5;
  config.train.batch_size = 2;
  const fs::path a = fresh_dir("sp_alpha_a"), b = fresh_dir("sp_alpha_b"), c = fresh_dir("sp_alpha_c");
  nmt::train::TrainOptions full;
  full.output_dir = a.string();
  nmt::train::train(config, full);
  CHECK(fs::exists(a / "latest" / "src_spm.model"));

  // Two epochs, then --resume for the other two: epochs 3 and 4 draw the same segmentations as in run a.
  nmt::train::TrainOptions part = full;
  part.output_dir = b.string();
  part.num_epochs = 2;
  nmt::train::train(config, part);
  part.resume = true;
  part.num_epochs = 4;
  nmt::train::train(config, part);
  check_same_weights(a, b);

  // Without sampling the same run ends elsewhere: the segmentations did change.
  Config plain = config;
  plain.data.sp_alpha = 0.0;
  nmt::train::TrainOptions other = full;
  other.output_dir = c.string();
  nmt::train::train(plain, other);
  auto wa = nmt::models::load_checkpoint((a / "latest").string(), torch::kCPU);
  auto wc = nmt::models::load_checkpoint((c / "latest").string(), torch::kCPU);
  bool differ = false;
  const auto pc = wc.model->named_parameters();
  for (const auto& p : wa.model->named_parameters()) differ = differ || !torch::equal(p.value(), pc[p.key()]);
  CHECK(differ);
  for (const auto& dir : {a, b, c}) fs::remove_all(dir);
}

TEST_CASE("valid_every_steps validates mid-epoch without changing training", "[train]") {
  Config config = tiny_config("seq2seq_attention", 2, 0.2);
  config.data.valid_ratio = 0.25;  // 2 of the 8 sources: 6 training pairs
  config.train.batch_size = 2;     // 3 batches per epoch
  config.train.label_smoothing = 0.1;
  const fs::path plain = fresh_dir("vsteps_plain"), every = fresh_dir("vsteps_every"), again = fresh_dir("vsteps_again");
  nmt::train::TrainOptions options;
  options.output_dir = plain.string();
  nmt::train::train(config, options);
  config.train.valid_every_steps = 2;
  options.output_dir = every.string();
  nmt::train::train(config, options);

  const auto p = read_metrics(plain), e = read_metrics(every);
  REQUIRE(p.size() == 2);
  REQUIRE(e.size() == 4);
  const std::vector<int64_t> steps{2, 3, 4, 6}, epochs{1, 1, 2, 2};
  const std::vector<bool> mid{true, false, true, false};
  for (std::size_t i = 0; i < e.size(); ++i) {
    INFO("line " << i);
    CHECK(e[i].at("step") == steps[i]);
    CHECK(e[i].at("epoch") == epochs[i]);
    CHECK(e[i].at("mid_epoch") == mid[i]);
    CHECK(e[i].at("valid_bleu_sentences") == 2);
    CHECK(e[i].contains("valid_objective"));  // label smoothing: both the objective and plain cross-entropy
    CHECK(e[i].at("valid_objective") != e[i].at("valid_loss"));
    CHECK(!e[i].contains("blas"));  // machine-dependent values are in timing.jsonl
    CHECK(!e[i].contains("num_threads"));
  }
  CHECK(e[0].at("epoch_fraction").get<double>() == Approx(2.0 / 3.0));
  CHECK(e[0].at("best") == true);  // the first validation is always the best so far: best/ written mid-epoch
  // Validation does not disturb training: epoch-end losses and the weights equal those of the plain run.
  CHECK(e[1].at("train_loss") == p[0].at("train_loss"));
  CHECK(e[3].at("train_loss") == p[1].at("train_loss"));
  CHECK(e[3].at("valid_bleu") == p[1].at("valid_bleu"));
  CHECK(e[3].at("valid_loss") == p[1].at("valid_loss"));
  check_same_weights(plain, every);
  // best/ holds the last line flagged best.
  int64_t best_step = 0;
  for (const auto& line : e)
    if (line.at("best").get<bool>()) best_step = line.at("step").get<int64_t>();
  const auto best = read_state(every / "best");
  CHECK(best.at("step") == best_step);
  CHECK(best.at("best_step") == best_step);
  // The smoothing window (valid_every_steps updates): at step 4, steps 3 and 4.
  CHECK(e[2].at("window_steps") == 2);
  CHECK(e[2].at("train_loss_window").get<double>() > 0);

  // metrics.jsonl holds only what config and seed determine: a rerun writes the same bytes.
  options.output_dir = again.string();
  nmt::train::train(config, options);
  CHECK(nmt::common::read_text((every / "metrics.jsonl").string()) ==
        nmt::common::read_text((again / "metrics.jsonl").string()));
  CHECK(nmt::common::read_lines((again / "timing.jsonl").string()).size() == 4);
}

TEST_CASE("Trainer::validate restores the model's train/eval mode", "[train]") {
  Config config = tiny_config("transformer", 1, 0.1);
  config.data.valid_ratio = 0.25;
  const fs::path dir = fresh_dir("validate_mode");
  nmt::train::TrainOptions options;
  options.output_dir = dir.string();
  nmt::train::Trainer trainer(config, options);
  trainer.model()->eval();
  const auto v = trainer.validate();
  REQUIRE(v.has_value());
  CHECK_FALSE(trainer.model()->is_training());
  trainer.model()->train();
  const auto w = trainer.validate();
  CHECK(trainer.model()->is_training());
  REQUIRE(w.has_value());
  // Same weights, eval mode both times (dropout off): the same figures; no smoothing: objective = cross-entropy.
  CHECK(w->loss == v->loss);
  CHECK(w->bleu == v->bleu);
  CHECK(v->objective == v->loss);
  CHECK(v->bleu_sentences == 2);
  CHECK(v->loss > 0);
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
