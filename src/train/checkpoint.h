#pragma once
// Checkpoints: a directory with the weights, optimiser and RNG state, the resolved config and both
// vocabularies, so that decoding needs nothing else (layout as CTranslate2 / Marian keep models).
//
//   DIR/model.pt  DIR/optimizer.pt  DIR/rng.pt  DIR/state.json  DIR/config.json  DIR/src_vocab.txt  DIR/tgt_vocab.txt

#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>

#include "common/config.h"
#include "data/vocab.h"
#include "models/seq2seq.h"

namespace nmt::train {

/// Progress of a training run, saved with each checkpoint.
struct TrainingState {
  int64_t epoch = 0;  ///< completed epochs
  int64_t step = 0;   ///< optimiser steps taken
  double best_score = -std::numeric_limits<double>::infinity();  ///< valid BLEU, or -train loss without a valid split
  int64_t best_epoch = 0;      ///< epoch of the best validation (the epoch in progress for a mid-epoch one)
  int64_t best_step = 0;       ///< step of the best validation
  double elapsed_seconds = 0;  ///< training wall time so far, validation excluded (s)
  int64_t batches_done = 0;    ///< batches of epoch `epoch + 1` already taken (a stopped epoch); 0 at epoch ends
  double partial_loss_sum = 0; ///< Σ training objective over those batches (nats), to finish the epoch's mean exactly
  double partial_tokens = 0;   ///< target tokens in those batches
  /// Σ training objective (nats) and target tokens of each of the last steps (oldest first, at most the
  /// smoothing window of the curves), so that a resumed run smooths as an uninterrupted one.
  std::vector<double> window_loss_sums, window_tokens;
  nlohmann::json to_json() const;
  /// Throws std::invalid_argument naming `source` and the key when a field is missing or mistyped.
  static TrainingState from_json(const nlohmann::json& json, const std::string& source);
};

/// Writes a checkpoint to `dir` atomically (built in `dir.tmp`, then swapped in with replace_directory).
/// `optimizer` may be null (weights only). Throws std::runtime_error on I/O failure.
void save_checkpoint(const std::string& dir, models::Seq2SeqModelImpl& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& state, const common::Config& config, const data::Vocab& src_vocab,
                     const data::Vocab& tgt_vocab);

/// A run directory (holding `best/`) maps to its `best` checkpoint; a checkpoint directory to itself. When a
/// kill interrupted a checkpoint swap, the surviving `DIR.old` is used (see common::replace_directory).
/// Throws std::runtime_error naming the path when neither is found.
std::string resolve_checkpoint_dir(const std::string& path);

/// Loads model weights from `file` into `model`, checking every tensor's name and shape against the model.
/// Throws std::runtime_error naming the file for a missing, truncated or corrupted file, and
/// std::invalid_argument naming the tensor and both shapes when the checkpoint has other sizes.
void load_weights(models::Seq2SeqModelImpl& model, const std::string& file, const c10::Device& device);

/// Everything needed to use a trained model.
struct LoadedCheckpoint {
  std::string dir;
  common::Config config;
  data::Vocab src_vocab;
  data::Vocab tgt_vocab;
  models::Seq2SeqModel model;
  TrainingState state;
};

/// Loads config, vocabularies, model (built by make_model, moved to `device`, in eval mode) and state
/// from a run or checkpoint directory (see resolve_checkpoint_dir). Errors as load_weights and load_config.
LoadedCheckpoint load_checkpoint(const std::string& path, const c10::Device& device);

/// Restores the optimiser state and the CPU random generator from checkpoint `dir` (for --resume).
/// Throws std::runtime_error naming the file when it is missing or unreadable.
void load_training_state(const std::string& dir, torch::optim::Optimizer& optimizer);

}  // namespace nmt::train
