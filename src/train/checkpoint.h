#pragma once
// Writing checkpoints during training and restoring the optimiser and RNG state for --resume. The checkpoint
// layout (one directory with model.pt, config.json, both vocabularies (and subword models), state.json, optimizer.pt, rng.pt, rng_cuda.pt on CUDA) and
// the loading that inference needs live in models/checkpoint.h; this file adds what only training uses.

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>

#include "common/config.h"
#include "data/tokenizer.h"
#include "data/vocab.h"
#include "models/checkpoint.h"  // the reading side: --resume loads weights with models::load_weights
#include "models/seq2seq.h"
#include "train/precision.h"

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
  int64_t world_size = 1;      ///< processes that trained the run (a resumed run must use as many)
  std::string device = "cpu";  ///< the device the checkpoint was trained on (c10::Device::str(): "cpu", "cuda:0")
  std::string precision = "fp32";  ///< train.precision of the run
  /// fp16 runs: the dynamic loss scaler (train/precision.h); absent from state.json otherwise.
  std::optional<LossScalerState> loss_scaler;
  nlohmann::json to_json() const;
  /// Throws std::runtime_error (a data error: exit 1) naming `source` and the key when a field is missing or mistyped.
  static TrainingState from_json(const nlohmann::json& json, const std::string& source);
};

/// Writes a checkpoint to `dir` (layout in models/checkpoint.h) atomically and durably: it is built in
/// `dir.tmp`, every file and the directory are fsynced, and only then is it swapped in with
/// common::replace_directory, so a crash leaves the previous or the new checkpoint, complete.
/// `optimizer` may be null (weights only). `rank_rng_states[i]` (a distributed run's other ranks) is written as
/// rng_rank{i+1}.pt beside rng.pt (rank 0's); when LibTorch sees CUDA devices, their generator states go to
/// rng_cuda.pt (common::cuda_rng_states). `ema_parameters` (one per model.parameters(), in that order), when
/// given, is written as ema.pt in model.pt's format (the model's own buffers included); the model is left as it was. The tokenizers' subword models are written when config.data.tokenizer
/// is "sentencepiece" (std::invalid_argument if they are word level then). Throws std::runtime_error naming the
/// path on I/O failure.
void save_checkpoint(const std::string& dir, models::Seq2SeqModelImpl& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& state, const common::Config& config, const data::Vocab& src_vocab,
                     const data::Vocab& tgt_vocab, const data::Tokenizer& src_tokenizer = {},
                     const data::Tokenizer& tgt_tokenizer = {},
                     const std::vector<torch::Tensor>& rank_rng_states = {},
                     const std::vector<torch::Tensor>& ema_parameters = {});

/// Restores the optimiser state (its tensors onto `device`, the device being trained on now), the CPU random
/// generator and, when the checkpoint has rng_cuda.pt and CUDA is available, the CUDA generators from checkpoint
/// `dir` (for --resume); a CUDA checkpoint resumed without CUDA, or a CPU one with CUDA, gets a warning (dropout on
/// the CUDA device then draws from the seeded generators, not the saved ones). Throws std::runtime_error naming the
/// file when it is missing or unreadable.
void load_training_state(const std::string& dir, torch::optim::Optimizer& optimizer,
                         const c10::Device& device = c10::Device(c10::kCPU));

}  // namespace nmt::train
