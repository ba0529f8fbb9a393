#pragma once
// The training-curve figures of a run directory, drawn from its metrics.jsonl and timing.jsonl lines
// (train::Trainer writes them; `nmt train` passes this function as the trainer's curve writer).

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plot/plot.h"

namespace nmt::plot {

/// The series of one training-curve figure.
struct TrainingCurves {
  std::vector<Series> losses;  ///< left panel
  std::vector<Series> scores;  ///< right panel (valid BLEU); empty without a valid split
};

/// Builds the series from the metrics.jsonl lines (`metrics`, one per validation), plotted against the line's
/// "step", or, with `by_minutes`, against the training minutes of the timing.jsonl line (`timing`) with the same
/// step (its "elapsed_seconds" / 60; validation excluded; metrics lines without one are left out). Like is
/// plotted with like: with label smoothing (lines holding "valid_objective") the loss panel shows "train
/// objective" (its "train_loss_window": the mean over the last "window_steps" updates, "train_loss" when
/// absent), "valid objective" and "valid cross-entropy"; otherwise "train loss" and "valid loss" (both plain
/// cross-entropy). The score panel shows "valid BLEU". Throws std::invalid_argument naming the line for a
/// metrics line without a numeric "step" or "train_loss".
TrainingCurves training_curves(const std::vector<nlohmann::json>& metrics, const std::vector<nlohmann::json>& timing,
                               bool by_minutes);

/// Writes `run_dir`/curves.{png,svg} (x: update steps) and `run_dir`/curves_minutes.{png,svg} (x: training
/// minutes) from training_curves(), titled `title`. Throws as training_curves and write_curves.
void write_training_curves(const std::vector<nlohmann::json>& metrics, const std::vector<nlohmann::json>& timing,
                           const std::string& run_dir, const std::string& title);

}  // namespace nmt::plot
