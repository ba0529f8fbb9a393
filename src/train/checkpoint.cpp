#include "train/checkpoint.h"

#include <filesystem>

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/io.h"
#include "common/torch_compat.h"
#include "train/ema.h"

namespace nmt::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string error_text(const c10::Error& e) { return e.what_without_backtrace(); }

}  // namespace

json TrainingState::to_json() const {
  json j{{"epoch", epoch},
          {"step", step},
          {"best_score", std::isfinite(best_score) ? json(best_score) : json(nullptr)},
          {"best_epoch", best_epoch},
          {"best_step", best_step},
          {"elapsed_seconds", elapsed_seconds},
          {"batches_done", batches_done},
          {"partial_loss_sum", partial_loss_sum},
          {"partial_tokens", partial_tokens},
          {"window_loss_sums", window_loss_sums},
          {"window_tokens", window_tokens},
          {"world_size", world_size},
          {"device", device},
          {"precision", precision}};
  if (loss_scaler)
    j["loss_scaler"] = {{"scale", loss_scaler->scale},
                        {"growth_tracker", loss_scaler->growth_tracker},
                        {"skipped_steps", loss_scaler->skipped_steps}};
  return j;
}

TrainingState TrainingState::from_json(const json& j, const std::string& source) {
  TrainingState s;
  try {
    s.epoch = j.at("epoch").get<int64_t>();
    s.step = j.at("step").get<int64_t>();
    s.best_score = j.at("best_score").is_null() ? -std::numeric_limits<double>::infinity()
                                                : j.at("best_score").get<double>();
    s.best_epoch = j.at("best_epoch").get<int64_t>();
    s.elapsed_seconds = j.at("elapsed_seconds").get<double>();
    s.batches_done = j.value("batches_done", int64_t{0});
    s.partial_loss_sum = j.value("partial_loss_sum", 0.0);
    s.partial_tokens = j.value("partial_tokens", 0.0);
    s.best_step = j.value("best_step", int64_t{0});
    s.world_size = j.value("world_size", int64_t{1});
    s.device = j.value("device", std::string("cpu"));
    s.precision = j.value("precision", std::string("fp32"));
    if (j.contains("loss_scaler")) {
      const json& ls = j.at("loss_scaler");
      s.loss_scaler = LossScalerState{ls.at("scale").get<double>(), ls.at("growth_tracker").get<int64_t>(),
                                      ls.at("skipped_steps").get<int64_t>()};
    }
    if (j.contains("window_loss_sums")) s.window_loss_sums = j.at("window_loss_sums").get<std::vector<double>>();
    if (j.contains("window_tokens")) s.window_tokens = j.at("window_tokens").get<std::vector<double>>();
    if (s.window_loss_sums.size() != s.window_tokens.size())
      throw std::runtime_error(source + ": malformed training state: window_loss_sums and window_tokens differ in length");
  } catch (const json::exception& e) {
    throw std::runtime_error(source + ": malformed training state: " + e.what());
  }
  return s;
}

void save_checkpoint(const std::string& dir, models::Seq2SeqModelImpl& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& state, const common::Config& config, const data::Vocab& src_vocab,
                     const data::Vocab& tgt_vocab, const data::Tokenizer& src_tokenizer,
                     const data::Tokenizer& tgt_tokenizer, const std::vector<torch::Tensor>& rank_rng_states,
                     const std::vector<torch::Tensor>& ema_parameters) {
  const bool subword = config.data.tokenizer == common::kTokenizerSentencePiece;
  if (subword && !(src_tokenizer.is_subword() && tgt_tokenizer.is_subword()))
    throw std::invalid_argument("save_checkpoint: a sentencepiece run's checkpoint needs both subword models");
  const std::string staged = dir + ".tmp";
  std::error_code ec;
  fs::remove_all(staged, ec);
  fs::create_directories(staged, ec);
  if (ec) throw std::runtime_error("cannot create " + staged + ": " + ec.message());
  try {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to(staged + "/model.pt");
    if (!ema_parameters.empty()) {
      const ScopedWeights averaged(model.parameters(), ema_parameters);
      torch::serialize::OutputArchive ema;
      model.save(ema);
      ema.save_to(staged + "/ema.pt");
    }
    if (optimizer) torch::save(*optimizer, staged + "/optimizer.pt");
    torch::Tensor rng;
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      rng = gen.get_state();
    }
    torch::save(rng, staged + "/rng.pt");
    for (std::size_t i = 0; i < rank_rng_states.size(); ++i)
      torch::save(rank_rng_states[i], staged + "/rng_rank" + std::to_string(i + 1) + ".pt");
    const std::vector<torch::Tensor> cuda_rng = common::cuda_rng_states();
    if (!cuda_rng.empty()) torch::save(cuda_rng, staged + "/rng_cuda.pt");
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot write checkpoint " + staged + ": " + error_text(e));
  }
  common::write_text_atomic(staged + "/config.json", config.to_json().dump(2) + "\n");
  common::write_text_atomic(staged + "/state.json", state.to_json().dump(2) + "\n");
  src_vocab.save(staged + "/src_vocab.txt");
  tgt_vocab.save(staged + "/tgt_vocab.txt");
  if (subword) {
    src_tokenizer.save(staged, "src");
    tgt_tokenizer.save(staged, "tgt");
  }
  // fsyncs every file under `staged` (torch::save's files are not synced when written) and `staged` itself, then
  // publishes it.
  common::replace_directory(staged, dir);
}

void load_training_state(const std::string& dir, torch::optim::Optimizer& optimizer, const c10::Device& device) {
  const std::string opt_file = dir + "/optimizer.pt", rng_file = dir + "/rng.pt", cuda_file = dir + "/rng_cuda.pt";
  for (const auto& f : {opt_file, rng_file})
    if (!fs::is_regular_file(f)) throw std::runtime_error("cannot resume: " + f + " is missing");
  try {
    torch::load(optimizer, opt_file, device);
    torch::Tensor rng;
    torch::load(rng, rng_file);
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot resume from " + dir + ": optimizer.pt or rng.pt is corrupted: " + error_text(e));
  }
  const bool has_cuda_rng = fs::is_regular_file(cuda_file);
  if (has_cuda_rng) {
    try {
      std::vector<torch::Tensor> states;
      torch::load(states, cuda_file);
      if (common::set_cuda_rng_states(states) == 0 && device.is_cuda())
        spdlog::warn("[train] {} holds CUDA generator states, but none could be restored", cuda_file);
    } catch (const c10::Error& e) {
      throw std::runtime_error("cannot resume from " + dir + ": rng_cuda.pt is corrupted: " + error_text(e));
    }
  } else if (device.is_cuda()) {
    spdlog::warn("[train] {} has no rng_cuda.pt (a checkpoint trained without CUDA): dropout on {} continues from "
                 "the seeded generator, not a saved one", dir, device.str());
  }
}

}  // namespace nmt::train
