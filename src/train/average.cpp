#include "train/average.h"

#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/io.h"
#include "models/checkpoint.h"
#include "train/checkpoint.h"

namespace nmt::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Throws std::invalid_argument naming both checkpoints and `what` when `same` is false.
void require(bool same, const std::string& a, const std::string& b, const std::string& what) {
  if (!same)
    throw std::invalid_argument("cannot average " + a + " and " + b + ": " + what +
                                " (checkpoints of one model, with the same vocabularies, are needed)");
}

std::string token_or_end(const data::Vocab& v, int64_t i) {
  return i < v.size() ? "\"" + v.to_token(i) + "\"" : std::string("nothing (") + std::to_string(v.size()) + " tokens)";
}

/// The first difference between two checkpoints that makes averaging meaningless, if any (see average_checkpoints).
void check_compatible(const models::LoadedCheckpoint& a, const models::LoadedCheckpoint& b) {
  const json ma = a.config.to_json()["model"], mb = b.config.to_json()["model"];
  for (const auto& [key, value] : ma.items())
    require(mb.contains(key) && mb[key] == value, a.dir, b.dir,
            "model." + key + " is " + value.dump() + " in the first, " + (mb.contains(key) ? mb[key].dump() : "absent") +
                " in the second");
  const json da = a.config.to_json()["data"], db = b.config.to_json()["data"];
  for (const char* key : {"tokenizer", "lowercase", "d2l_punctuation"})
    require(da[key] == db[key], a.dir, b.dir,
            std::string("data.") + key + " is " + da[key].dump() + " in the first, " + db[key].dump() + " in the second");
  for (const auto& [name, va, vb] : {std::tuple<const char*, const data::Vocab*, const data::Vocab*>{
                                         "src_vocab.txt", &a.src_vocab, &b.src_vocab},
                                     {"tgt_vocab.txt", &a.tgt_vocab, &b.tgt_vocab}}) {
    const int64_t n = std::max(va->size(), vb->size());
    for (int64_t i = 0; i < n; ++i)
      require(i < va->size() && i < vb->size() && va->to_token(i) == vb->to_token(i), a.dir, b.dir,
              std::string(name) + " differs at token " + std::to_string(i) + ": " + token_or_end(*va, i) +
                  " against " + token_or_end(*vb, i));
  }
  for (const char* model : {"src_spm.model", "tgt_spm.model"}) {
    const fs::path fa = fs::path(a.dir) / model, fb = fs::path(b.dir) / model;
    const bool ea = fs::exists(fa), eb = fs::exists(fb);
    require(ea == eb && (!ea || common::read_text(fa.string()) == common::read_text(fb.string())), a.dir, b.dir,
            std::string("their ") + model + " differ");
  }
}

}  // namespace

AverageResult average_checkpoints(const std::vector<std::string>& checkpoints, const std::string& output,
                                  bool use_ema, bool overwrite) {
  if (checkpoints.empty()) throw std::invalid_argument("nmt average: give the checkpoints to average");
  if (output.empty()) throw std::invalid_argument("nmt average: give --output DIR");
  std::error_code ec;
  AverageResult result;
  for (const auto& path : checkpoints) result.inputs.push_back(models::resolve_checkpoint_dir(path));
  for (const auto& dir : result.inputs)
    if (fs::exists(output, ec) && fs::equivalent(dir, output, ec))
      throw std::invalid_argument("--output " + output + " is one of the checkpoints to average");
  if (fs::exists(output, ec) && !fs::is_empty(output, ec) && !overwrite)
    throw std::invalid_argument("--output " + output + " already holds files; pass --overwrite to replace it");
  std::size_t with_ema = 0;
  for (const auto& dir : result.inputs) with_ema += fs::is_regular_file(fs::path(dir) / "ema.pt", ec) ? 1 : 0;
  const bool all_ema = use_ema && with_ema == result.inputs.size();
  result.weights = all_ema ? "ema" : "raw";
  if (use_ema && with_ema > 0 && !all_ema)
    spdlog::warn("[average] not every checkpoint has EMA weights: averaging the raw weights (model.pt) of all");

  // The first checkpoint holds the running sums (float64 copies); the others are loaded one at a time.
  models::LoadedCheckpoint first = models::load_checkpoint(result.inputs.front(), torch::kCPU, all_ema);
  std::vector<torch::Tensor> targets, sums;
  torch::NoGradGuard no_grad;
  for (const auto& p : first.model->named_parameters()) targets.push_back(p.value());
  for (const auto& b : first.model->named_buffers())
    if (b.value().is_floating_point()) targets.push_back(b.value());
  for (const auto& t : targets) sums.push_back(t.to(torch::kDouble));
  models::LoadedCheckpoint last_seen;
  for (std::size_t k = 1; k < result.inputs.size(); ++k) {
    models::LoadedCheckpoint other = models::load_checkpoint(result.inputs[k], torch::kCPU, all_ema);
    check_compatible(first, other);
    std::size_t i = 0;
    for (const auto& p : other.model->named_parameters()) sums[i++] += p.value().to(torch::kDouble);
    for (const auto& b : other.model->named_buffers())
      if (b.value().is_floating_point()) sums[i++] += b.value().to(torch::kDouble);
    last_seen = std::move(other);
  }
  const auto n = static_cast<double>(result.inputs.size());
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i].copy_(sums[i] / n);
  result.tensors = static_cast<int64_t>(targets.size());

  // Config, vocabularies, subword models and progress of the last checkpoint given.
  const models::LoadedCheckpoint& last = result.inputs.size() > 1 ? last_seen : first;
  TrainingState state;
  if (!last.state.empty()) state = TrainingState::from_json(last.state, last.dir + "/state.json");
  save_checkpoint(output, *first.model, nullptr, state, last.config, last.src_vocab, last.tgt_vocab,
                  last.src_tokenizer, last.tgt_tokenizer);
  json saved = json::parse(common::read_text(output + "/state.json"));
  saved["averaged_from"] = result.inputs;
  saved["averaged_weights"] = result.weights;
  common::write_text_atomic(output + "/state.json", saved.dump(2) + "\n");
  return result;
}

}  // namespace nmt::train
