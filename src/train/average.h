#pragma once
// Checkpoint averaging: the parameter-wise mean of several checkpoints of one model, as fairseq's
// scripts/average_checkpoints.py, JoeyNMT's average_checkpoints and Marian's average.py compute it.

#include <string>
#include <vector>

namespace nmt::train {

/// What average_checkpoints read and wrote.
struct AverageResult {
  std::vector<std::string> inputs;  ///< the checkpoint directories read (after models::resolve_checkpoint_dir)
  std::string weights;              ///< "ema" when every input's EMA weights (ema.pt) were averaged, else "raw"
  int64_t tensors = 0;              ///< parameters and floating-point buffers averaged
};

/// Averages the weights of `checkpoints` (run or checkpoint directories) parameter by parameter, accumulating in
/// float64, and writes a self-contained checkpoint to `output` (models/checkpoint.h layout: model.pt, the last
/// input's config.json, vocabularies and subword models, its state.json plus "averaged_from", no optimiser) that
/// translate and eval read as any other. Each input contributes the weights it translates with: its ema.pt when
/// it has one and `use_ema`, else model.pt; the average uses EMA weights only when every input has them.
/// Throws std::invalid_argument when no checkpoint is given, `output` is one of them, `output` already holds
/// files and `overwrite` is false, or two inputs differ in a model key, data.tokenizer, data.lowercase,
/// data.d2l_punctuation, a vocabulary or a subword model (the message names both checkpoints and the first
/// difference); std::runtime_error as models::load_checkpoint for unreadable checkpoints and on write errors.
AverageResult average_checkpoints(const std::vector<std::string>& checkpoints, const std::string& output,
                                  bool use_ema = true, bool overwrite = false);

}  // namespace nmt::train
