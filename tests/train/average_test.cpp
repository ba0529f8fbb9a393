// EMA and kept epoch checkpoints in a training run, and nmt average over them (train/average.h).
#include "train/average.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/io.h"
#include "models/checkpoint.h"
#include "support/temp_dir.h"
#include "train/ema.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using nmt::common::Config;

namespace {

Config tiny_config(int64_t epochs, double ema_decay, int64_t keep) {
  Config c;
  c.data.path = NMT_SOURCE_DIR "/tests/fixtures/overfit_fra.txt";
  c.data.num_examples.reset();
  c.data.num_steps = 8;
  c.data.min_freq = 1;
  c.data.valid_ratio = 0.25;
  c.model.type = "transformer";
  c.model.embed_size = 16;
  c.model.num_hiddens = 16;
  c.model.num_layers = 1;
  c.model.ffn_num_hiddens = 32;
  c.model.dropout = 0.1;
  c.train.batch_size = 8;  // every training pair in one batch: one update per epoch
  c.train.num_epochs = epochs;
  c.train.lr = 0.01;
  c.train.device = "cpu";
  c.train.seed = 5;
  c.train.ema_decay = ema_decay;
  c.train.keep_checkpoints = keep;
  return c;
}

/// The parameters of a checkpoint file (model.pt or ema.pt of `dir`) by name, read through the model.
std::map<std::string, torch::Tensor> weights(const fs::path& dir, bool ema) {
  auto c = nmt::models::load_checkpoint(dir.string(), torch::kCPU, ema);
  CHECK(c.weights == (ema ? "ema" : "raw"));
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : c.model->named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

nmt::train::TrainResult train(const Config& c, const fs::path& dir, bool resume = false,
                              std::optional<int64_t> epochs = std::nullopt) {
  nmt::train::TrainOptions o;
  o.output_dir = dir.string();
  o.resume = resume;
  o.num_epochs = epochs;
  return nmt::train::train(c, o);
}

}  // namespace

TEST_CASE("EMA of the weights: Marian's update between epochs, validation with it, exact resume", "[train][ema]") {
  const nmt::test::TempDir tmp("ema_run");
  const double decay = 0.05;
  const Config config = tiny_config(4, decay, 3);
  train(config, tmp / "full");
  const fs::path run = tmp / "full";
  for (const char* f : {"latest/ema.pt", "best/ema.pt", "epoch_2/ema.pt", "epoch_3/model.pt", "epoch_4/model.pt"})
    CHECK(fs::exists(run / f));
  CHECK_FALSE(fs::exists(run / "epoch_1"));           // only the last 3 are kept
  CHECK_FALSE(fs::exists(run / "epoch_4/optimizer.pt"));  // weights only
  CHECK(nlohmann::json::parse(nmt::common::read_text((run / "epoch_4/state.json").string()))["epoch"] == 4);

  // One update per epoch: ema_N = (1 - d_N) ema_{N-1} + d_N w_N with d_N = max(decay, 1 - N / (N + 9)).
  const auto e2 = weights(run / "epoch_2", true), e3 = weights(run / "epoch_3", true);
  const auto w3 = weights(run / "epoch_3", false), w4 = weights(run / "epoch_4", false);
  const auto e4 = weights(run / "epoch_4", true);
  for (const auto& [name, value] : e3) {
    INFO(name);
    const double d3 = nmt::train::ema_factor(decay, 3), d4 = nmt::train::ema_factor(decay, 4);
    CHECK(torch::allclose(value, (1 - d3) * e2.at(name) + d3 * w3.at(name), 1e-5, 1e-6));
    CHECK(torch::allclose(e4.at(name), (1 - d4) * value + d4 * w4.at(name), 1e-5, 1e-6));
    CHECK_FALSE(torch::equal(e4.at(name), w4.at(name)));
  }

  SECTION("validation and best/ use the averaged weights") {
    // A resumed Trainer holds the raw weights: its validation differs from the logged one until the average is
    // loaded into the model, and then equals it exactly.
    const auto metrics = nmt::common::read_lines((run / "metrics.jsonl").string());
    const double logged = nlohmann::json::parse(metrics.back())["valid_loss"].get<double>();
    nmt::train::TrainOptions o;
    o.output_dir = run.string();
    o.resume = true;
    nmt::train::Trainer trainer(config, o);
    CHECK(trainer.validate()->loss != logged);
    nmt::models::load_weights(*trainer.model(), (run / "latest/ema.pt").string(), torch::kCPU);
    CHECK(trainer.validate()->loss == logged);
  }
  SECTION("a resumed run ends with the average of an uninterrupted one") {
    train(config, tmp / "part", false, 2);
    train(config, tmp / "part", true, 4);  // the first invocation stored its override (2 epochs)
    for (bool ema : {true, false}) {
      const auto a = weights(run / "latest", ema), b = weights(tmp / "part/latest", ema);
      for (const auto& [name, value] : a) {
        INFO(name << (ema ? " (ema)" : " (raw)"));
        CHECK(torch::equal(value, b.at(name)));
      }
    }
  }
  SECTION("nmt average averages parameter by parameter") {
    const fs::path out = tmp / "avg";
    const auto r = nmt::train::average_checkpoints(
        {(run / "epoch_2").string(), (run / "epoch_3").string(), (run / "epoch_4").string()}, out.string());
    CHECK(r.weights == "ema");
    const auto avg = weights(out, false);
    CHECK_FALSE(fs::exists(out / "ema.pt"));
    for (const auto& [name, value] : avg) {
      INFO(name);
      CHECK(torch::allclose(value, (e2.at(name) + e3.at(name) + e4.at(name)) / 3, 1e-6, 1e-7));
    }
    const auto state = nlohmann::json::parse(nmt::common::read_text((out / "state.json").string()));
    CHECK(state["averaged_from"].size() == 3);
    CHECK(state["epoch"] == 4);
    // --no-ema: the raw weights; an existing output needs overwrite.
    CHECK_THROWS_WITH(nmt::train::average_checkpoints({(run / "epoch_3").string(), (run / "epoch_4").string()},
                                                      out.string(), false),
                      Catch::Contains("--overwrite"));
    nmt::train::average_checkpoints({(run / "epoch_3").string(), (run / "epoch_4").string()}, out.string(), false,
                                    true);
    for (const auto& [name, value] : weights(out, false))
      CHECK(torch::allclose(value, (w3.at(name) + w4.at(name)) / 2, 1e-6, 1e-7));
  }
  SECTION("checkpoints of another model or vocabulary are refused, naming the difference") {
    Config wider = tiny_config(1, 0, 0);
    wider.model.num_hiddens = 32;
    train(wider, tmp / "wider");
    CHECK_THROWS_WITH(nmt::train::average_checkpoints({(run / "latest").string(), (tmp / "wider").string()},
                                                      (tmp / "bad").string()),
                      Catch::Contains("model.num_hiddens is 16 in the first, 32 in the second"));
    Config fewer = tiny_config(1, 0, 0);
    fewer.data.num_examples = 6;  // a smaller vocabulary
    train(fewer, tmp / "fewer");
    CHECK_THROWS_WITH(nmt::train::average_checkpoints({(run / "latest").string(), (tmp / "fewer").string()},
                                                      (tmp / "bad").string()),
                      Catch::Contains("src_vocab.txt differs at token"));
    CHECK_THROWS_AS(nmt::train::average_checkpoints({(run / "latest").string(), (tmp / "fewer").string()},
                                                    (tmp / "bad").string()),
                    std::invalid_argument);
    CHECK_FALSE(fs::exists(tmp / "bad"));
  }
}
