// Times the parts of one training step (forward, loss, backward, clipping, Adam: train::Trainer::train_step with
// StepTimes) for a model config on random batches: `nmt_step_profile CONFIG [src_vocab tgt_vocab steps [decode_batch]]`. Prints milliseconds per part; a
// benchmark, not a test. With decode_batch > 0 it times greedy search instead (random sources of num_steps
// tokens, the untrained model rarely emits <eos>, so every call runs num_steps decoder steps).
#include <chrono>
#include <cstdio>

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "common/blas.h"
#include "common/memory.h"
#include "common/config.h"
#include "decoding/search.h"
#include "models/model_factory.h"
#include "data/dataset.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  nmt::common::ensure_fast_blas(argc, argv);
  nmt::common::tune_malloc();  // keep freed tensor memory mapped (common/memory.h)
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CONFIG [src_vocab tgt_vocab steps]\n", argv[0]);
    return 2;
  }
  const auto config = nmt::common::load_config(argv[1]);
  const int64_t sv = argc > 2 ? std::atoll(argv[2]) : 9717, tv = argc > 3 ? std::atoll(argv[3]) : 17245;
  const int64_t steps = argc > 4 ? std::atoll(argv[4]) : 10;
  at::set_num_threads(static_cast<int>(std::max<int64_t>(1, config.train.num_threads)));
  torch::manual_seed(0);
  auto model = nmt::models::make_model(config.model, sv, tv);
  const int64_t B = config.train.batch_size, T = 10;
  using Clock = std::chrono::steady_clock;
  const int64_t decode_batch = argc > 5 ? std::atoll(argv[5]) : 0;
  if (decode_batch > 0) {
    model->eval();
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    double total = 0;
    for (int64_t i = 0; i < steps + 2; ++i) {
      if (i == 2 && std::getenv("NMT_PROFILE"))
        profile = std::make_unique<torch::autograd::profiler::RecordProfile>(std::getenv("NMT_PROFILE"));
      auto src = torch::randint(4, sv, {decode_batch, T}, torch::kLong);
      auto lens = torch::randint(3, T + 1, {decode_batch}, torch::kLong);
      const auto t0 = Clock::now();
      nmt::decoding::SearchOptions search;
      search.max_len = T;
      nmt::decoding::GreedySearch().search(*model, src, lens, {1, 2}, search);
      if (i >= 2) total += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    }
    profile.reset();
    std::printf("%s: greedy search of %lld sentences: %.2f ms per call (%lld steps), %.0f sentences/s\n", argv[1],
                static_cast<long long>(decode_batch), total / static_cast<double>(steps), static_cast<long long>(T),
                1000.0 * static_cast<double>(decode_batch * steps) / total);
    return 0;
  }
  // The step is the trainer's own (train::Trainer::train_step, with the config's lr, schedule, clipping and label
  // smoothing); StepTimes splits it into its parts.
  nmt::train::Trainer trainer(config, model, /*bos=*/1);
  model->train();
  nmt::train::StepTimes times;
  // NMT_PROFILE=FILE writes a Chrome trace of the timed steps (autograd profiler).
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
  for (int64_t i = 0; i < steps + 2; ++i) {
    if (i == 2 && std::getenv("NMT_PROFILE"))
      profile = std::make_unique<torch::autograd::profiler::RecordProfile>(std::getenv("NMT_PROFILE"));
    if (i == 2) times = {};  // the first two steps are warm-up
    auto src = torch::randint(4, sv, {B, T}, torch::kLong), tgt = torch::randint(4, tv, {B, T}, torch::kLong);
    auto lens = torch::randint(3, T + 1, {B}, torch::kLong);
    trainer.train_step(nmt::data::Batch{src, lens, tgt, lens}, &times);
  }
  profile.reset();
  const double n = static_cast<double>(steps) / 1e3;  // seconds summed over `steps` -> ms per step
  std::printf("%s (%s): forward %.1f ms, loss %.1f ms, backward %.1f ms, clip %.1f ms, adam %.1f ms, total %.1f ms/step\n",
              argv[1], nmt::common::blas_info().describe().c_str(), times.forward / n, times.loss / n,
              times.backward / n, times.clip / n, times.adam / n,
              (times.forward + times.loss + times.backward + times.clip + times.adam) / n);
  return 0;
}
