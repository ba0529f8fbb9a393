#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/io.h"
#include "common/torch_compat.h"
#include "data/dataset.h"
#include "models/model_factory.h"
#include "ops/attention_ops.h"
#include "ops/dispatch.h"
#include "ops/loss_ops.h"
#include "support/temp_dir.h"
#include "support/test_device.h"
#include "support/tiny_model.h"
#include "train/checkpoint.h"
#include "train/precision.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using nlohmann::json;
using nmt::train::LossScaler;
using nmt::train::LossScalerState;
using nmt::train::ScopedAutocast;

TEST_CASE("train.precision: names, devices and the autocast scope", "[precision]") {
  SECTION("names map to dtypes; fp16 needs CUDA") {
    CHECK_FALSE(nmt::train::precision_dtype("fp32").has_value());
    CHECK(nmt::train::precision_dtype("bf16") == c10::kBFloat16);
    CHECK(nmt::train::precision_dtype("fp16") == c10::kHalf);
    CHECK_THROWS_WITH(nmt::train::precision_dtype("fp8"), Catch::Contains("train.precision") &&
                                                              Catch::Contains("fp8") && Catch::Contains("bf16"));
    CHECK_NOTHROW(nmt::train::check_precision("bf16", torch::kCPU));
    CHECK_THROWS_AS(nmt::train::check_precision("fp16", torch::kCPU), std::invalid_argument);
    CHECK_THROWS_WITH(nmt::train::check_precision("fp16", torch::kCPU),
                      Catch::Contains("train.precision") && Catch::Contains("fp16") && Catch::Contains("cpu"));
  }
  SECTION("bf16 on the CPU: LibTorch's matrix products run in bf16, the fused loops step aside; restored after") {
    const auto a = torch::randn({4, 8}), b = torch::randn({8, 3});
    const nmt::ops::ScopedFused fused(true);
    REQUIRE(nmt::ops::use_fused({a, b}));
    {
      const ScopedAutocast outer(torch::kCPU, "bf16");
      CHECK(nmt::common::autocast_enabled(c10::kCPU));
      CHECK(torch::mm(a, b).scalar_type() == torch::kBFloat16);
      // The product autocast computes is LibTorch's own bf16 product of the rounded inputs.
      CHECK(torch::equal(torch::mm(a, b), torch::mm(a.to(torch::kBFloat16), b.to(torch::kBFloat16))));
      CHECK_FALSE(nmt::ops::use_fused({a, b}));
      {
        const ScopedAutocast fp32(torch::kCPU, "fp32");  // does nothing: the outer scope still holds
        CHECK(torch::mm(a, b).scalar_type() == torch::kBFloat16);
      }
      CHECK(nmt::common::autocast_enabled(c10::kCPU));
    }
    CHECK_FALSE(nmt::common::autocast_enabled(c10::kCPU));
    CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);
    CHECK(nmt::ops::use_fused({a, b}));
  }
}

TEST_CASE("LossScaler follows GradScaler's rule", "[precision]") {
  SECTION("halve on overflow, double after 2000 finite steps in a row") {
    LossScaler s;
    CHECK(s.scale() == 65536.0);
    s.update(false);
    CHECK(s.scale() == 32768.0);
    CHECK(s.state().skipped_steps == 1);
    for (int i = 0; i < 1999; ++i) s.update(true);
    CHECK(s.scale() == 32768.0);
    CHECK(s.state().growth_tracker == 1999);
    s.update(false);  // an overflow restarts the count
    CHECK(s.scale() == 16384.0);
    CHECK(s.state().growth_tracker == 0);
    for (int i = 0; i < 2000; ++i) s.update(true);
    CHECK(s.scale() == 32768.0);
    CHECK(s.state().growth_tracker == 0);
    CHECK(s.state().skipped_steps == 2);
    const LossScaler resumed(s.state());
    CHECK(resumed.scale() == 32768.0);
    CHECK_THROWS_AS(LossScaler(LossScalerState{0.0, 0, 0}), std::invalid_argument);
  }
  SECTION("unscale divides the gradients and reports non-finite ones") {
    auto w = torch::tensor({1.0f, 2.0f}).requires_grad_();
    auto v = torch::tensor({3.0f}).requires_grad_();
    const auto unused = torch::zeros({2}).requires_grad_();  // no gradient: skipped
    (w * torch::tensor({1024.0f, 2048.0f})).sum().add(v.mul(-512.0f).sum()).backward();
    const LossScaler s(LossScalerState{512.0, 0, 0});
    CHECK(s.unscale({w, v, unused}));
    CHECK(torch::equal(w.grad(), torch::tensor({2.0f, 4.0f})));
    CHECK(torch::equal(v.grad(), torch::tensor({-1.0f})));
    v.mutable_grad().fill_(std::numeric_limits<float>::infinity());
    CHECK_FALSE(s.unscale({w, v}));
    v.mutable_grad().fill_(std::numeric_limits<float>::quiet_NaN());
    CHECK_FALSE(s.unscale({w, v}));
  }
}

TEST_CASE("the LibTorch path computes softmax and loss in float32 for bf16 input", "[precision]") {
  const nmt::ops::ScopedFused libtorch(false);
  torch::manual_seed(5);
  const auto scores = torch::randn({2, 3, 5}).to(torch::kBFloat16);
  const auto lens = torch::tensor({2, 5});
  const auto weights = nmt::ops::masked_softmax(scores, lens, 0.5);
  CHECK(weights.scalar_type() == torch::kFloat);
  const auto expected = nmt::ops::masked_softmax(scores.to(torch::kFloat), lens, 0.5);
  CHECK(torch::allclose(weights, expected, 0, 1e-7));
  CHECK(weights.index({0, torch::indexing::Slice(), torch::indexing::Slice(2)}).abs().max().item<float>() == 0.0f);

  const auto logits = torch::randn({4, 7}).to(torch::kBFloat16);
  const auto labels = torch::tensor({0, 6, 3, 1});
  const auto loss = nmt::ops::softmax_cross_entropy(logits, labels, 0.1);
  CHECK(loss.scalar_type() == torch::kFloat);
  namespace F = torch::nn::functional;
  const auto reference = F::cross_entropy(logits.to(torch::kFloat), labels,
                                          F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(0.1));
  CHECK(torch::allclose(loss, reference, 0, 1e-6));
}

namespace {

/// A fixed batch of 6 pairs (lengths 2..7 of 8 columns) for a vocabulary of 13, on `device`.
nmt::data::Batch fixed_batch(const c10::Device& device) {
  torch::manual_seed(11);
  nmt::data::Batch b;
  b.src = torch::randint(4, 13, {6, 8}, torch::kLong);
  b.tgt = torch::randint(4, 13, {6, 8}, torch::kLong);
  b.src_valid_len = torch::tensor({8, 7, 6, 5, 4, 3});
  b.tgt_valid_len = torch::tensor({2, 3, 4, 5, 6, 8});
  return b.to(device);
}

}  // namespace

TEST_CASE("mixed-precision training steps of every model type", "[precision][device]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer");
  const c10::Device device = nmt::test::test_device();
  // fp16 only where it runs (CUDA); bf16 everywhere.
  const std::string precision = device.is_cuda() ? GENERATE(as<std::string>{}, "bf16", "fp16") : std::string("bf16");
  INFO("model " << type << ", " << precision << " on " << device.str());
  nmt::common::Config config;
  config.model = nmt::test::tiny_model_config(type);
  config.model.dropout = 0.0;
  config.train.lr = 0.01;
  config.train.precision = precision;
  const auto batch = fixed_batch(device);

  torch::manual_seed(3);
  auto reference_model = nmt::models::make_model(config.model, 13, 13);
  torch::manual_seed(3);
  auto model = nmt::models::make_model(config.model, 13, 13);
  reference_model->to(device);
  model->to(device);
  nmt::common::Config fp32 = config;
  fp32.train.precision = "fp32";
  nmt::train::Trainer reference(fp32, reference_model, /*bos=*/1);
  nmt::train::Trainer trainer(config, model, /*bos=*/1);

  const auto first_reference = reference.train_step(batch);
  const auto first = trainer.train_step(batch);
  const double per_token = first.loss_sum_value / first.tokens.item<double>();
  const double reference_per_token = first_reference.loss_sum_value / first_reference.tokens.item<double>();
  // The same weights give nearly the same loss; not the same bits, since the products were rounded.
  CHECK_THAT(per_token, WithinRel(reference_per_token, 0.02));
  CHECK(per_token != reference_per_token);
  CHECK(first.loss_sum.scalar_type() == torch::kFloat);
  double last = per_token;
  for (int i = 0; i < 40; ++i) {
    const auto r = trainer.train_step(batch);
    if (!r.skipped) last = r.loss_sum_value / r.tokens.item<double>();
  }
  CHECK(last < 0.5 * per_token);  // it learns the batch
  for (const auto& p : model->parameters()) {
    CHECK(p.scalar_type() == torch::kFloat);  // float32 master weights
    CHECK(p.grad().scalar_type() == torch::kFloat);
  }
  CHECK_FALSE(nmt::common::autocast_enabled(device.type()));
}

namespace {

nmt::common::Config tiny_run_config(const std::string& precision) {
  nmt::common::Config c;
  c.data.path = NMT_SOURCE_DIR "/tests/fixtures/overfit_fra.txt";
  c.data.num_examples.reset();
  c.data.num_steps = 8;
  c.data.min_freq = 1;
  c.model = nmt::test::tiny_model_config("transformer");
  c.model.dropout = 0.2;  // exercises the saved generator state
  c.train.batch_size = 2;
  c.train.num_epochs = 3;
  c.train.lr = 0.01;
  c.train.device = "cpu";
  c.train.seed = 3;
  c.train.precision = precision;
  return c;
}

}  // namespace

TEST_CASE("a bf16 run records its precision and device, and resumes as an uninterrupted run", "[precision][train]") {
  const nmt::test::TempDir tmp("precision_run");
  nmt::train::TrainOptions full;
  full.output_dir = (tmp / "full").string();
  nmt::train::train(tiny_run_config("bf16"), full);
  const json state = json::parse(nmt::common::read_text(full.output_dir + "/latest/state.json"));
  CHECK(state.at("precision") == "bf16");
  CHECK(state.at("device") == "cpu");
  CHECK_FALSE(state.contains("loss_scaler"));
  CHECK(json::parse(nmt::common::read_lines(full.output_dir + "/timing.jsonl").front()).at("precision") == "bf16");
  CHECK_FALSE(fs::exists(full.output_dir + "/latest/rng_cuda.pt"));  // no CUDA here: no generator states to keep

  nmt::train::TrainOptions part = full;
  part.output_dir = (tmp / "part").string();
  part.max_minutes = 1e-6;  // stops after the first step
  nmt::train::train(tiny_run_config("bf16"), part);
  part.resume = true;
  part.max_minutes = 0.0;
  nmt::train::train(tiny_run_config("bf16"), part);
  const auto a = nmt::models::load_checkpoint(full.output_dir + "/latest", torch::kCPU);
  const auto b = nmt::models::load_checkpoint(part.output_dir + "/latest", torch::kCPU);
  const auto pb = b.model->named_parameters();
  for (const auto& p : a.model->named_parameters()) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), pb[p.key()]));
  }
  CHECK(nmt::common::read_text(full.output_dir + "/metrics.jsonl") ==
        nmt::common::read_text(part.output_dir + "/metrics.jsonl"));

  // The same run in fp32 ends elsewhere: the precision is used.
  nmt::train::TrainOptions fp32 = full;
  fp32.output_dir = (tmp / "fp32").string();
  nmt::train::train(tiny_run_config("fp32"), fp32);
  CHECK(nmt::common::read_text(full.output_dir + "/metrics.jsonl") !=
        nmt::common::read_text(fp32.output_dir + "/metrics.jsonl"));

  nmt::train::TrainOptions bad = full;
  bad.output_dir = (tmp / "fp16").string();
  CHECK_THROWS_WITH(nmt::train::train(tiny_run_config("fp16"), bad),
                    Catch::Contains("train.precision") && Catch::Contains("CUDA"));
}

TEST_CASE("state.json keeps the loss scaler of an fp16 run and reads older files", "[precision][checkpoint]") {
  nmt::train::TrainingState s;
  s.device = "cuda:1";
  s.precision = "fp16";
  s.loss_scaler = LossScalerState{1024.0, 17, 3};
  const auto back = nmt::train::TrainingState::from_json(s.to_json(), "state.json");
  CHECK(back.device == "cuda:1");
  CHECK(back.precision == "fp16");
  REQUIRE(back.loss_scaler.has_value());
  CHECK(back.loss_scaler->scale == 1024.0);
  CHECK(back.loss_scaler->growth_tracker == 17);
  CHECK(back.loss_scaler->skipped_steps == 3);
  json old = s.to_json();
  old.erase("device"), old.erase("precision"), old.erase("loss_scaler");
  const auto legacy = nmt::train::TrainingState::from_json(old, "old/state.json");
  CHECK(legacy.device == "cpu");
  CHECK(legacy.precision == "fp32");
  CHECK_FALSE(legacy.loss_scaler.has_value());
  json broken = s.to_json();
  broken["loss_scaler"].erase("scale");
  CHECK_THROWS_WITH(nmt::train::TrainingState::from_json(broken, "x/state.json"), Catch::Contains("x/state.json"));
}
