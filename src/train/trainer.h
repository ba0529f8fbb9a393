#pragma once
// The training loop (d2l.ai §10.7 train_seq2seq: teacher forcing, masked cross-entropy, Adam, gradient clipping)
// as a class with one method per phase, in the manner of JoeyNMT's TrainManager (training.py: _train_step,
// _validate, _save_checkpoint, init_from_checkpoint) and Marian's Scheduler/TrainingState: validation every
// train.valid_every_steps updates and at epoch ends, metrics and checkpoints in a run directory, resumable
// after a signal or the time limit.

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "common/config.h"
#include "data/dataset.h"
#include "models/seq2seq.h"
#include "train/checkpoint.h"

namespace nmt::train {

class ExponentialAverage;
class FusedAdam;
class GradientReducer;
class LossScaler;
class ProcessGroup;

/// Draws the training curves after each validation from every metrics.jsonl and timing.jsonl line so far
/// (`metrics`, `timing`), into `run_dir`, with figure title `title`. The trainer calls it and lets its
/// exceptions through; `nmt train` wires it to plot::write_training_curves (so nmt_core draws nothing).
using CurveWriter = std::function<void(const std::vector<nlohmann::json>& metrics,
                                       const std::vector<nlohmann::json>& timing, const std::string& run_dir,
                                       const std::string& title)>;

/// How `nmt train` was asked to run.
struct TrainOptions {
  std::string output_dir;                 ///< run directory
  bool resume = false;                    ///< continue from output_dir/latest
  bool overwrite = false;                 ///< replace a run already in output_dir
  std::optional<int64_t> num_epochs;      ///< overrides train.num_epochs (also when resuming)
  std::optional<double> max_minutes;      ///< overrides train.max_minutes (also when resuming)
  CurveWriter write_curves;               ///< called after each validation; empty = no figures
  /// Data-parallel group this process is a rank of (not owned; must outlive the Trainer), or null for a
  /// single-process run. A group of world size 1 trains as a single process.
  ProcessGroup* group = nullptr;
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

/// Summary of a finished (or time-limited) invocation.
struct TrainResult {
  int64_t epochs = 0;           ///< epochs completed in total
  double train_loss = 0;        ///< last completed epoch's training objective per target token (nats; the
                                ///< label-smoothed cross-entropy, plain cross-entropy when label_smoothing is 0)
  double best_score = 0;        ///< best valid BLEU (0..100), or -train loss without a valid split
  double seconds = 0;           ///< training wall time of the whole run, validation excluded (s)
};

/// What one update did. The tensors stay on the device, so accumulating them costs no host synchronisation;
/// the step synchronises to read the loss for the finiteness check (loss_sum_value) and, on CUDA, also to count
/// the valid target positions (train::valid_positions).
struct StepResult {
  torch::Tensor loss_sum;       ///< 0-dim float, detached: Σ training objective over the batch's target tokens (nats)
  torch::Tensor tokens;         ///< 0-dim float: target tokens of the batch (Σ tgt_valid_len clamped to its columns)
  double loss_sum_value = 0;    ///< loss_sum on the host
  double tokens_value = 0;      ///< distributed: `tokens` on the host (0 in a single process, which counts on the CPU batch)
  double lr = 0;                ///< learning rate of this update (train.lr_schedule at `step`)
  int64_t step = 0;             ///< number of this update in the run, from 1
  bool stop_signal = false;     ///< distributed: some rank had SIGINT/SIGTERM when this step was reduced
  bool stop_time = false;       ///< distributed: rank 0's time limit had passed when this step was reduced
  bool skipped = false;         ///< fp16: the scaled gradients overflowed and the update was skipped (LossScaler)
};

/// Seconds spent in the parts of train_step, summed over the calls that were given this object (benchmarks).
/// Taken with the host clock, so on an asynchronous device they are launch times, not kernel times.
struct StepTimes {
  double forward = 0;   ///< teacher-forcing input and forward_features
  double loss = 0;      ///< masked_cross_entropy and the host read of its sum
  double backward = 0;  ///< backward of the mean loss
  double clip = 0;      ///< gradient-norm clipping
  double adam = 0;      ///< the Adam update
  double allreduce = 0; ///< distributed: copying gradients into buckets and the all-reduce (waits included)
};

/// Valid-split figures of one validation.
struct Validation {
  double loss = 0;            ///< masked cross-entropy per target token (nats), no label smoothing
  double objective = 0;       ///< the same with train.label_smoothing (equals `loss` when it is 0)
  double bleu = 0;            ///< corpus BLEU (0..100) of the greedy translations (metrics::corpus_bleu, sacreBLEU defaults)
  int64_t bleu_sentences = 0; ///< valid sentences translated for `bleu` (train.valid_bleu_sentences, 0 = all)
};

struct RunData;
struct RunClock;

/// Trains one model. A run-mode Trainer owns a run directory, which receives config.json (defaults filled
/// in), src_vocab.txt, tgt_vocab.txt, the split files ({valid,test}.{src,ref}), metrics.jsonl (one object per
/// validation holding only values the config and seed determine, so reruns on the same machine give identical
/// files), timing.jsonl (one object per validation: wall times, tokens/s, threads and BLAS kernels), the
/// checkpoints latest/ and best/ (best by valid BLEU, or by train loss without a valid split), with
/// train.keep_checkpoints K > 0 the weights of the last K epoch ends as epoch_N/, and, through
/// TrainOptions::write_curves, the training-curve figures. With train.ema_decay > 0 the trainer keeps an
/// exponential moving average of the weights (train/ema.h, updated after every step), validates with it (so
/// best/ is chosen by the averaged weights) and stores it as ema.pt in every checkpoint beside the raw model.pt;
/// --resume restores both. Validation happens every train.valid_every_steps
/// updates (when > 0) and at every epoch end. A step-only Trainer (the benchmarks) just runs train_step().
class Trainer {
 public:
  /// Run mode: prepare_run_dir(), then device, threads and seed, data and vocabularies, model and optimiser,
  /// then restore() when options.resume. With resume, the config stored in the run directory is used (apart
  /// from the overrides). Throws std::invalid_argument when the directory holds a run and neither resume nor
  /// overwrite is set, for a bad config (also train.precision fp16 off CUDA: train::check_precision), or when the config's split leaves no training pairs; std::runtime_error
  /// on I/O and data errors (unreadable corpus, corrupted run directory or checkpoint on resume).
  /// Distributed (options.group of world size >= 2): rank 0 does all of the above and then hands the resolved
  /// config, vocabularies, subword models and (on resume) optimizer, training and RNG state to the other ranks
  /// through the rendezvous store; they read the corpus themselves (every machine needs it), write nothing, and
  /// cap their LibTorch threads at cores / local world size. Rank 0's parameters are then broadcast. Also throws
  /// std::invalid_argument for a non-CPU device or, on resume, a run trained by another number of ranks, and
  /// std::runtime_error when rank 0's set-up failed (on the other ranks) or a collective fails or times out.
  Trainer(common::Config config, TrainOptions options);

  /// Step-only mode: trains `model` where it lives with config.train's optimiser, schedule, clipping, label
  /// smoothing and precision; `bos` is the target `<bos>` id. run(), validate() throw std::logic_error. Throws
  /// std::invalid_argument for train.precision fp16 on a model off CUDA.
  Trainer(const common::Config& config, models::Seq2SeqModel model, int64_t bos);

  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Trains until train.num_epochs epochs are done or this invocation has trained train.max_minutes (then
  /// latest/ holds the position inside the epoch, which is not marked done, and --resume continues as an
  /// uninterrupted run would). SIGINT/SIGTERM finish the current step, write latest/ (with the position inside
  /// the epoch) and throw TrainingInterrupted. Throws std::runtime_error on I/O errors and on a NaN/infinite
  /// loss (naming epoch and step; the weights are not updated with it, and the last checkpoint stays).
  /// Distributed: every rank runs this; a signal on any rank or rank 0's time limit stops all after the same
  /// step; rank 0 alone validates and writes; at every checkpoint and at the end the ranks check they hold
  /// bit-identical weights and optimizer state (std::runtime_error naming the rank otherwise); a failed
  /// collective (a peer that died, train.dist_timeout_s passed) is a std::runtime_error.
  TrainResult run();

  /// One update on `batch` (on the model's device; `[batch, steps]` src/tgt, `[batch]` valid lengths):
  /// learning rate for the next step number, gradients reset, teacher-forced forward (`<bos>` + tgt[:, :-1]),
  /// masked cross-entropy with train.label_smoothing, backward of its mean, gradient-norm clipping
  /// (train.grad_clip > 0), Adam. With train.precision bf16/fp16 the forward pass and the loss run under autocast
  /// (train/precision.h); fp16 scales the loss before backward and skips an update whose gradients overflow
  /// (StepResult::skipped; the step number still advances, as with GradScaler). In a distributed run `batch` is this rank's share (possibly empty) of the
  /// step's global batch: the backward is of the share's loss sum, the gradients and [tokens, loss sum, stop
  /// requests] are summed over the ranks (GradientReducer) and the gradients divided by the total target tokens,
  /// so every rank makes the update one process would make on the union batch; the StepResult then holds the
  /// global sums. `times`, when given, receives the seconds of each part. Throws std::runtime_error naming epoch
  /// and step when the loss (the global one, on every rank) is not finite, before the weights change, and
  /// when a collective fails.
  StepResult train_step(const data::Batch& batch, StepTimes* times = nullptr);

  /// Loss (plain and label-smoothed) over the valid split and BLEU of the translations of its first
  /// train.valid_bleu_sentences sentences (beam train.valid_beam_size, 1 = greedy; lengths and length penalty
  /// from the `decode` section), in eval mode without gradients; puts the model back into the train/eval mode
  /// it was in. std::nullopt without a valid split.
  std::optional<Validation> validate();

  /// The model being trained.
  models::Seq2SeqModel& model() { return model_; }
  /// Position and best score (what state.json of the next checkpoint will hold).
  const TrainingState& state() const { return state_; }

 private:
  /// Resolves the config (the run directory's on resume, then the overrides), checks and clears the run
  /// directory (--overwrite) and writes config.json.
  void prepare_run_dir();
  /// Loads latest/ (weights, optimiser, RNG, state.json) and the metrics/timing lines up to its step.
  void restore();
  /// Trains epoch `epoch` from state_.batches_done; returns false when the time limit stopped the run.
  bool run_epoch(int64_t epoch);
  /// Share of the run's budget used before the current step, in [0, 1], for train.lr_schedule "linear": the larger
  /// of (updates done) / (train.num_epochs · updates per epoch) and (training seconds of this invocation) /
  /// (60 · train.max_minutes). Rank 0's clock decides for every rank (sent with each step's sums). 0 in
  /// step-only mode.
  double schedule_progress() const;
  /// Training seconds of this invocation / (60 · train.max_minutes); 0 without a time limit or clock. The run is
  /// out of time when it reaches 1 (rank 0's share, sent with the step sums, for every rank of a distributed run).
  double invocation_time_progress() const;
  /// Re-tokenises the training split with segmentations sampled for `epoch` (data.sp_alpha > 0).
  void sample_subwords(int64_t epoch);
  /// Validates, logs and checkpoints at the current step (mid-epoch when `batches_done` < `num_batches`).
  void validation_point(int64_t epoch, int64_t batches_done, int64_t num_batches, const torch::Tensor& loss_sum,
                        const torch::Tensor& token_sum, double lr);
  /// Writes a checkpoint of the current model (and its average), optimiser, RNG and state_ to `dir` (latest/ or
  /// best/); `weights_only` leaves the optimiser out (the epoch_N/ checkpoints).
  void save(const std::string& dir, bool weights_only = false);
  /// After the checkpoint of epoch `epoch`: writes epoch_{epoch}/ and removes the epoch_N/ directories with
  /// N <= epoch - train.keep_checkpoints (nothing when it is 0).
  void keep_epoch_checkpoint(int64_t epoch);
  /// Reads the corpus, splits it, builds (or loads from `vocab_dir`) tokenizers and vocabularies, and makes the
  /// tensor datasets; the lead also writes the vocabularies and held-out files into the run directory.
  void load_data(const std::string& vocab_dir);
  /// train_step's part after the learning rate is set, for a distributed run.
  StepResult distributed_step(const data::Batch& batch, double lr, StepTimes* times);
  /// True for rank 0 of a distributed run and for a single process: the one that writes the run directory.
  bool lead() const;
  /// Non-lead rank set-up: waits for rank 0's set-up files (resolved config, vocabularies, subword models; on
  /// resume also state.json, optimizer.pt and this rank's RNG state) and copies them into `dir`.
  void receive_setup(const std::string& dir);
  /// Rank 0: publishes those files to the other ranks (or, when `error` is non-empty, that set-up failed).
  void publish_setup(const std::string& error);
  /// Distributed: copies rank 0's parameters to every rank.
  void broadcast_parameters();
  /// Distributed, before every checkpoint (all ranks): gathers every rank's CPU RNG state for rank 0's
  /// checkpoint and checks that parameters and optimizer state are bit-identical on all ranks (hashes
  /// all-gathered); throws std::runtime_error naming the rank that differs. Returns the hash of rank 0.
  uint64_t sync_ranks();
  /// Appends one metrics and one timing line, rewrites both files, draws the curves (options_.write_curves)
  /// and logs `summary`.
  void report(nlohmann::json metrics_line, nlohmann::json timing_line, const std::string& summary);

  common::Config config_;                  ///< the resolved config (overrides applied)
  TrainOptions options_;                   ///< run directory, resume/overwrite, curve writer
  c10::Device device_;                     ///< where the model and the batches live
  models::Seq2SeqModel model_;             ///< the model being trained
  std::unique_ptr<FusedAdam> optimizer_;   ///< Adam over model_'s parameters
  int64_t bos_ = 0;                        ///< target `<bos>` id (teacher-forcing input)
  TrainingState state_;                    ///< position, best score, step window (saved with each checkpoint)
  std::unique_ptr<RunData> data_;          ///< splits, vocabularies, BLEU sentences; null in step-only mode
  std::unique_ptr<RunClock> clock_;        ///< wall clocks and the metrics/timing lines; null in step-only mode
  ProcessGroup* group_ = nullptr;          ///< data-parallel group (world size >= 2), or null
  std::unique_ptr<GradientReducer> reducer_;  ///< bucketed gradient all-reduce when group_
  double time_progress_ = 0;  ///< distributed: rank 0's share of train.max_minutes used, from the last step's sums
  int64_t steps_per_epoch_ = 0;            ///< updates in an epoch (set by run_epoch; 0 in step-only mode)
  std::vector<torch::Tensor> rank_rng_states_;  ///< ranks 1.. CPU RNG states from the last sync_ranks()
  std::unique_ptr<ExponentialAverage> ema_;     ///< the lead's weight average (train.ema_decay > 0), else null
  std::unique_ptr<LossScaler> scaler_;          ///< dynamic loss scaling (train.precision fp16), else null
};

/// Trains `config` into `options.output_dir`: Trainer(config, options).run() (see Trainer).
TrainResult train(common::Config config, const TrainOptions& options);

}  // namespace nmt::train
