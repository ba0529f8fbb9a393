#include "train/checkpoint.h"

#include <filesystem>
#include <map>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "common/io.h"
#include "models/model_factory.h"

namespace nmt::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string error_text(const c10::Error& e) { return e.what_without_backtrace(); }

std::string shape(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

}  // namespace

json TrainingState::to_json() const {
  return {{"epoch", epoch},
          {"step", step},
          {"best_score", std::isfinite(best_score) ? json(best_score) : json(nullptr)},
          {"best_epoch", best_epoch},
          {"best_step", best_step},
          {"elapsed_seconds", elapsed_seconds},
          {"batches_done", batches_done},
          {"partial_loss_sum", partial_loss_sum},
          {"partial_tokens", partial_tokens},
          {"window_loss_sums", window_loss_sums},
          {"window_tokens", window_tokens}};
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
    if (j.contains("window_loss_sums")) s.window_loss_sums = j.at("window_loss_sums").get<std::vector<double>>();
    if (j.contains("window_tokens")) s.window_tokens = j.at("window_tokens").get<std::vector<double>>();
    if (s.window_loss_sums.size() != s.window_tokens.size())
      throw std::invalid_argument(source + ": malformed training state: window_loss_sums and window_tokens differ in length");
  } catch (const json::exception& e) {
    throw std::invalid_argument(source + ": malformed training state: " + e.what());
  }
  return s;
}

void save_checkpoint(const std::string& dir, models::Seq2SeqModelImpl& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& state, const common::Config& config, const data::Vocab& src_vocab,
                     const data::Vocab& tgt_vocab) {
  const std::string staged = dir + ".tmp";
  std::error_code ec;
  fs::remove_all(staged, ec);
  fs::create_directories(staged, ec);
  if (ec) throw std::runtime_error("cannot create " + staged + ": " + ec.message());
  try {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to(staged + "/model.pt");
    if (optimizer) torch::save(*optimizer, staged + "/optimizer.pt");
    torch::Tensor rng;
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      rng = gen.get_state();
    }
    torch::save(rng, staged + "/rng.pt");
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot write checkpoint " + staged + ": " + error_text(e));
  }
  common::write_text_atomic(staged + "/config.json", config.to_json().dump(2) + "\n");
  common::write_text_atomic(staged + "/state.json", state.to_json().dump(2) + "\n");
  src_vocab.save(staged + "/src_vocab.txt");
  tgt_vocab.save(staged + "/tgt_vocab.txt");
  common::replace_directory(staged, dir);
}

std::string resolve_checkpoint_dir(const std::string& path) {
  std::error_code ec;
  for (const std::string& dir : {path, (fs::path(path) / "best").string()}) {
    common::recover_directory(dir);
    if (fs::is_regular_file(fs::path(dir) / "model.pt", ec)) return dir;
  }
  if (!fs::exists(path, ec)) throw std::runtime_error("checkpoint path not found: " + path);
  throw std::runtime_error(path + " is neither a checkpoint directory (with model.pt) nor a run directory (with best/model.pt)");
}

void load_weights(models::Seq2SeqModelImpl& model, const std::string& file, const c10::Device& device) {
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& p : model.named_parameters()) expected[p.key()] = p.value().sizes().vec();
  for (const auto& b : model.named_buffers()) expected[b.key()] = b.value().sizes().vec();
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw std::runtime_error("checkpoint file not found: " + file);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(file, device);
    model.load(archive);
  } catch (const c10::Error& e) {
    throw std::runtime_error(file + " cannot be loaded (truncated, corrupted, or saved by another model type): " +
                             error_text(e));
  }
  // InputArchive replaces tensors whatever their shape, so check the shapes afterwards.
  auto check = [&](const std::string& key, const torch::Tensor& t) {
    const auto it = expected.find(key);
    if (it != expected.end() && t.sizes().vec() != it->second)
      throw std::invalid_argument(file + ": tensor \"" + key + "\" has shape " + shape(t.sizes()) +
                                  " but the model built from config.json and the vocabularies expects " +
                                  shape(it->second));
  };
  for (const auto& p : model.named_parameters()) check(p.key(), p.value());
  for (const auto& b : model.named_buffers()) check(b.key(), b.value());
}

LoadedCheckpoint load_checkpoint(const std::string& path, const c10::Device& device) {
  LoadedCheckpoint c;
  c.dir = resolve_checkpoint_dir(path);
  c.config = common::load_config(c.dir + "/config.json");
  c.src_vocab = data::Vocab::load(c.dir + "/src_vocab.txt");
  c.tgt_vocab = data::Vocab::load(c.dir + "/tgt_vocab.txt");
  const std::string state_file = c.dir + "/state.json";
  if (fs::exists(state_file)) {
    json j;
    try {
      j = json::parse(common::read_text(state_file));
    } catch (const json::exception& e) {
      throw std::invalid_argument(state_file + ": malformed JSON: " + e.what());
    }
    c.state = TrainingState::from_json(j, state_file);
  }
  c.model = models::make_model(c.config.model, c.src_vocab.size(), c.tgt_vocab.size());
  load_weights(*c.model, c.dir + "/model.pt", device);
  c.model->to(device);
  c.model->eval();
  return c;
}

void load_training_state(const std::string& dir, torch::optim::Optimizer& optimizer) {
  const std::string opt_file = dir + "/optimizer.pt", rng_file = dir + "/rng.pt";
  for (const auto& f : {opt_file, rng_file})
    if (!fs::is_regular_file(f)) throw std::runtime_error("cannot resume: " + f + " is missing");
  try {
    torch::load(optimizer, opt_file);
    torch::Tensor rng;
    torch::load(rng, rng_file);
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot resume from " + dir + ": optimizer.pt or rng.pt is corrupted: " + error_text(e));
  }
}

}  // namespace nmt::train
