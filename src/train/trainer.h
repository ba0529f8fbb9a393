#pragma once
// The training loop (d2l.ai §10.7 train_seq2seq): teacher forcing, masked cross-entropy, Adam, gradient
// clipping, per-epoch validation, metrics and checkpoints in a run directory.

#include <optional>
#include <stdexcept>
#include <string>

#include "common/config.h"

namespace nmt::train {

/// How `nmt train` was asked to run.
struct TrainOptions {
  std::string output_dir;                 ///< run directory
  bool resume = false;                    ///< continue from output_dir/latest
  bool overwrite = false;                 ///< replace a run already in output_dir
  std::optional<int64_t> num_epochs;      ///< overrides train.num_epochs (also when resuming)
  std::optional<double> max_minutes;      ///< overrides train.max_minutes
};

/// Thrown when SIGINT or SIGTERM stopped training after the current step; `latest/` then holds that step,
/// and `--resume` continues from it. main() exits with 128 + signal (130 for SIGINT, 143 for SIGTERM).
class TrainingInterrupted : public std::runtime_error {
 public:
  explicit TrainingInterrupted(int signal_number);
  int signal_number() const { return signal_number_; }

 private:
  int signal_number_;
};

/// Summary of a finished run.
struct TrainResult {
  int64_t epochs = 0;           ///< epochs completed in total
  double train_loss = 0;        ///< last epoch's cross-entropy per target token (nats)
  double best_score = 0;        ///< best valid BLEU (0..100), or -train loss without a valid split
  double seconds = 0;           ///< training wall time of the whole run (s)
};

/// Trains `config` into `options.output_dir`, which receives config.json (defaults filled in), src_vocab.txt,
/// tgt_vocab.txt, the split files ({valid,test}.{src,ref}), metrics.jsonl (one object per epoch, only values
/// that the config and seed determine, so that reruns give identical files), timing.jsonl (tokens/s and wall
/// times per epoch), the
/// checkpoints latest/ and best/ (best by valid BLEU, or by train loss without a valid split), and the
/// training-curve figures. With `resume`, the config stored in the run directory is used (apart from the
/// overrides) and training continues from latest/ to the same weights an uninterrupted run reaches.
/// SIGINT/SIGTERM finish the current step, write latest/ (with the position inside the epoch) and throw
/// TrainingInterrupted. Throws std::invalid_argument when the directory holds a run and neither resume nor
/// overwrite is set; std::runtime_error on I/O errors and on a NaN/infinite loss (naming epoch and step;
/// the weights are not updated with it, and the last checkpoint stays).
TrainResult train(common::Config config, const TrainOptions& options);

}  // namespace nmt::train
