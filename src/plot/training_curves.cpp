#include "plot/training_curves.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace nmt::plot {

using nlohmann::json;

namespace {

bool has_number(const json& line, const char* key) { return line.contains(key) && line[key].is_number(); }

}  // namespace

TrainingCurves training_curves(const std::vector<json>& metrics, const std::vector<json>& timing, bool by_minutes) {
  std::map<int64_t, double> minutes;  // step -> training minutes
  for (const auto& t : timing)
    if (has_number(t, "step") && has_number(t, "elapsed_seconds"))
      minutes[t["step"].get<int64_t>()] = t["elapsed_seconds"].get<double>() / 60.0;
  const bool smoothed_objective =
      std::any_of(metrics.begin(), metrics.end(), [](const json& m) { return has_number(m, "valid_objective"); });
  int64_t window = 0;
  for (const auto& m : metrics)
    if (has_number(m, "window_steps")) window = std::max(window, m["window_steps"].get<int64_t>());
  const std::string suffix = window > 0 ? " (last " + std::to_string(window) + " steps)" : std::string();
  Series train{(smoothed_objective ? "train objective" : "train loss") + suffix, {}, {}};
  Series valid{smoothed_objective ? "valid objective" : "valid loss", {}, {}};
  Series valid_ce{"valid cross-entropy", {}, {}};
  Series bleu{"valid BLEU", {}, {}};
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const json& m = metrics[i];
    if (!has_number(m, "step") || !has_number(m, "train_loss"))
      throw std::invalid_argument("[plot] metrics line " + std::to_string(i + 1) + " has no numeric step or train_loss");
    const int64_t step = m["step"].get<int64_t>();
    double x = static_cast<double>(step);
    if (by_minutes) {
      const auto it = minutes.find(step);
      if (it == minutes.end()) continue;
      x = it->second;
    }
    train.x.push_back(x);
    train.y.push_back(m[has_number(m, "train_loss_window") ? "train_loss_window" : "train_loss"].get<double>());
    const char* valid_key = smoothed_objective ? "valid_objective" : "valid_loss";
    if (has_number(m, valid_key)) valid.x.push_back(x), valid.y.push_back(m[valid_key].get<double>());
    if (smoothed_objective && has_number(m, "valid_loss"))
      valid_ce.x.push_back(x), valid_ce.y.push_back(m["valid_loss"].get<double>());
    if (has_number(m, "valid_bleu")) bleu.x.push_back(x), bleu.y.push_back(m["valid_bleu"].get<double>());
  }
  TrainingCurves c;
  c.losses.push_back(std::move(train));
  if (!valid.x.empty()) c.losses.push_back(std::move(valid));
  if (!valid_ce.x.empty()) c.losses.push_back(std::move(valid_ce));
  if (!bleu.x.empty()) c.scores.push_back(std::move(bleu));
  return c;
}

void write_training_curves(const std::vector<json>& metrics, const std::vector<json>& timing,
                           const std::string& run_dir, const std::string& title) {
  const TrainingCurves by_step = training_curves(metrics, timing, false);
  const TrainingCurves by_minutes = training_curves(metrics, timing, true);
  for (const char* ext : {".png", ".svg"}) {
    write_curves(by_step.losses, by_step.scores, title, run_dir + "/curves" + ext, "step");
    write_curves(by_minutes.losses, by_minutes.scores, title, run_dir + "/curves_minutes" + ext, "training minutes");
  }
}

}  // namespace nmt::plot
