#include "models/checkpoint.h"

#include <filesystem>
#include <map>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/io.h"
#include "models/model_factory.h"

namespace nmt::models {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string shape(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

/// Reads state.json into `c` (left empty when the file is absent). Every failure is a runtime_error
/// naming the file, and the key where one is at fault.
void read_state(const std::string& file, LoadedCheckpoint& c) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  try {
    c.state = json::parse(common::read_text(file));
  } catch (const json::exception& e) {
    throw std::runtime_error(file + ": malformed JSON (corrupted checkpoint): " + e.what());
  }
  if (!c.state.is_object())
    throw std::runtime_error(file + ": expected a JSON object (corrupted checkpoint), found " +
                             std::string(c.state.type_name()));
  for (const auto& [key, target] : {std::pair<const char*, int64_t*>{"epoch", &c.epoch}, {"step", &c.step}}) {
    const auto it = c.state.find(key);
    if (it == c.state.end() || !it->is_number_integer())
      throw std::runtime_error(file + ": key \"" + key + "\" is " +
                               (it == c.state.end() ? std::string("missing") : "not an integer: " + it->dump()) +
                               " (corrupted checkpoint)");
    *target = it->get<int64_t>();
  }
}

}  // namespace

std::string resolve_checkpoint_dir(const std::string& path) {
  std::error_code ec;
  for (const std::string& dir : {path, (fs::path(path) / "best").string(), (fs::path(path) / "latest").string()}) {
    common::recover_directory(dir);
    if (!fs::is_regular_file(fs::path(dir) / "model.pt", ec)) continue;
    if (dir != path && fs::path(dir).filename() == "latest")  // a run directory without best/
      spdlog::warn("[checkpoint] {} has no best/ yet (no validation has run): using {}", path, dir);
    return dir;
  }
  if (!fs::exists(path, ec)) throw std::runtime_error("checkpoint path not found: " + path);
  throw std::runtime_error(path + " is neither a checkpoint directory (with model.pt) nor a run directory (with "
                           "best/model.pt or latest/model.pt)");
}

void load_weights(Seq2SeqModelImpl& model, const std::string& file, const c10::Device& device) {
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
                             e.what_without_backtrace());
  }
  // InputArchive replaces tensors whatever their shape, so check the shapes afterwards.
  auto check = [&](const std::string& key, const torch::Tensor& t) {
    const auto it = expected.find(key);
    if (it != expected.end() && t.sizes().vec() != it->second)
      throw std::runtime_error(file + ": tensor \"" + key + "\" has shape " + shape(t.sizes()) +
                               " but the model built from config.json and the vocabularies expects " +
                               shape(it->second));
  };
  for (const auto& p : model.named_parameters()) check(p.key(), p.value());
  for (const auto& b : model.named_buffers()) check(b.key(), b.value());
}

LoadedCheckpoint load_checkpoint(const std::string& path, const c10::Device& device, bool use_ema) {
  LoadedCheckpoint c;
  c.dir = resolve_checkpoint_dir(path);
  try {
    c.config = common::load_config(c.dir + "/config.json");
  } catch (const std::invalid_argument& e) {  // the message names the file and key
    throw std::runtime_error(std::string(e.what()) + " (corrupted checkpoint)");
  }
  c.src_vocab = data::Vocab::load(c.dir + "/src_vocab.txt");
  c.tgt_vocab = data::Vocab::load(c.dir + "/tgt_vocab.txt");
  c.src_tokenizer = data::Tokenizer::load(c.dir, "src", c.config.data.tokenizer);
  c.tgt_tokenizer = data::Tokenizer::load(c.dir, "tgt", c.config.data.tokenizer);
  read_state(c.dir + "/state.json", c);
  c.model = make_model(c.config.model, c.src_vocab.size(), c.tgt_vocab.size());
  std::error_code ec;
  if (use_ema && fs::is_regular_file(c.dir + "/ema.pt", ec)) c.weights = "ema";
  load_weights(*c.model, c.dir + (c.weights == "ema" ? "/ema.pt" : "/model.pt"), device);
  c.model->to(device);
  c.model->eval();
  return c;
}

}  // namespace nmt::models
