#include "train/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/blas.h"
#include "common/device.h"
#include "common/io.h"
#include "common/logging.h"
#include "data/corpus.h"
#include "data/preprocess.h"
#include "data/split.h"
#include "data/tokenizer.h"
#include "data/vocab.h"
#include "decoding/translator.h"
#include "metrics/bleu.h"
#include "kernels/cpu_isa.h"
#include "models/checkpoint.h"
#include "models/model_factory.h"
#include "ops/dispatch.h"
#include "train/distributed.h"
#include "train/ema.h"
#include "train/loss.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/precision.h"

namespace nmt::train {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

TrainingInterrupted::TrainingInterrupted(int signal_number)
    : std::runtime_error("training interrupted by signal " + std::to_string(signal_number)),
      signal_number_(signal_number) {}

namespace {

std::atomic<int> g_signal{0};

// Store keys of the set-up rank 0 hands to the other ranks.
constexpr const char* kSetupReady = "nmt/setup/ready";
constexpr const char* kSetupError = "nmt/setup/error";
constexpr const char* kSetupFiles = "nmt/setup/files";
constexpr const char* kSetupResume = "nmt/setup/resume";
const std::string kSetupFilePrefix = "nmt/setup/file/";
const std::string kSetupRngPrefix = "nmt/setup/rng/";

extern "C" void record_signal(int signal_number) { g_signal = signal_number; }

/// Routes SIGINT and SIGTERM to a flag the training loop polls after each step; restores the old handlers.
class SignalGuard {
 public:
  SignalGuard() {
    g_signal = 0;
    struct sigaction action {};
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // a signal during checkpoint I/O must not fail the write with EINTR
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~SignalGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

/// Writes RUN_DIR/NAME.src and NAME.ref: the held-out pairs' sides as the corpus has them, one per line.
void write_split_files(const std::string& run_dir, const std::string& name, const std::vector<std::string>& sources,
                       const std::vector<std::string>& references) {
  std::string src, ref;
  for (const auto& s : sources) src += s + "\n";
  for (const auto& r : references) ref += r + "\n";
  common::write_text_atomic(run_dir + "/" + name + ".src", src);
  common::write_text_atomic(run_dir + "/" + name + ".ref", ref);
}

/// A held-out split: its pairs (words) and their texts as written.
struct HeldOut {
  std::vector<data::SentencePair> pairs;
  std::vector<std::string> sources, references;
};

/// The held-out split read from `files`, or else the pairs of `corpus` at `indices`.
HeldOut held_out(const std::optional<common::CorpusFiles>& files, const data::Corpus& corpus,
                 const std::vector<int64_t>& indices, const data::TextOptions& text) {
  HeldOut h;
  if (files) {
    data::Corpus c = data::read_corpus(*files, std::nullopt, text);
    h.pairs = std::move(c.pairs);
    h.sources = std::move(c.source_texts);
    h.references = std::move(c.target_texts);
    return h;
  }
  for (int64_t i : indices) {
    const auto k = static_cast<std::size_t>(i);
    h.pairs.push_back(corpus.pairs[k]);
    h.sources.push_back(corpus.source_texts[k]);
    h.references.push_back(corpus.target_texts[k]);
  }
  return h;
}

/// Decoder input for teacher forcing: `<bos>` followed by the target without its last token. `[batch, steps]`.
torch::Tensor teacher_forcing_input(const torch::Tensor& tgt, int64_t bos) {
  auto bos_column = torch::full({tgt.size(0), 1}, bos, tgt.options());
  return torch::cat({bos_column, tgt.narrow(1, 0, tgt.size(1) - 1)}, 1);
}

/// Target tokens of a batch on the CPU (Σ tgt_valid_len clamped to the batch's columns), read without touching
/// the device.
double target_tokens(const data::Batch& cpu_batch) {
  return cpu_batch.tgt_valid_len.clamp_max(cpu_batch.tgt.size(1)).sum().item<double>();
}

/// The metrics.jsonl / timing.jsonl lines of a run directory whose "step" is at most `up_to_step` (those the
/// checkpoint being resumed had seen).
std::vector<json> read_lines_up_to(const std::string& path, int64_t up_to_step) {
  std::vector<json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("step", int64_t{0}) <= up_to_step) lines.push_back(j);
  }
  return lines;
}

/// Rank `rank`'s share of the global batch `index` ([n] row indices of `data`) split between `world` ranks: the
/// contiguous rows from rank · (n / world) on (the first n % world ranks take one more; a share may be empty),
/// trimmed to the longest source and target of the *global* batch, as one process would trim the union (the GRU
/// encoder's final state depends on trailing padding).
data::Batch share_batch(const data::TensorDataset& data, const torch::Tensor& index, int64_t rank, int64_t world) {
  const int64_t n = index.numel(), base = n / world, extra = n % world;
  const int64_t start = rank * base + std::min(rank, extra);
  data::Batch b = data::gather_batch(data, index.narrow(0, start, base + (rank < extra ? 1 : 0)), /*trim=*/false);
  if (n == 0) return b;
  const int64_t src_steps = std::max<int64_t>(1, data.src_valid_len.index_select(0, index).max().item<int64_t>());
  const int64_t tgt_steps = std::max<int64_t>(1, data.tgt_valid_len.index_select(0, index).max().item<int64_t>());
  b.src = b.src.narrow(1, 0, std::min(src_steps, b.src.size(1))).contiguous();
  b.tgt = b.tgt.narrow(1, 0, std::min(tgt_steps, b.tgt.size(1))).contiguous();
  return b;
}

std::vector<int64_t> all_indices(std::size_t n) {
  std::vector<int64_t> indices(n);
  for (std::size_t i = 0; i < n; ++i) indices[i] = static_cast<int64_t>(i);
  return indices;
}

void write_lines(const std::string& path, const std::vector<json>& lines) {
  std::string text;
  for (const auto& line : lines) text += line.dump() + "\n";
  common::write_text_atomic(path, text);
}

}  // namespace

/// The corpus cut into splits, with tokenizers and vocabularies built on the training split.
struct RunData {
  data::Vocab src_vocab, tgt_vocab;
  data::Tokenizer src_tokenizer, tgt_tokenizer;   ///< word level, or the run's SentencePiece models
  std::vector<data::SentencePair> train_words;     ///< the training split as words, kept only when sp_alpha > 0
  data::TensorDataset train, valid;
  std::vector<std::vector<std::string>> bleu_sources;  ///< the first valid_bleu_sentences valid sources (words)
  std::vector<std::string> bleu_references;            ///< their references (tokens joined by spaces)
};

/// Wall clocks of one invocation and the lines of metrics.jsonl / timing.jsonl. Training time is counted in
/// segments that exclude validation and checkpointing.
struct RunClock {
  Clock::time_point segment_start = Clock::now();  ///< start of the current training segment
  double invocation_seconds = 0;   ///< training seconds of this invocation before segment_start
  double report_seconds = 0;       ///< training seconds since the last metrics line, before segment_start
  double report_tokens = 0;        ///< target tokens trained since the last metrics line (this invocation)
  double report_allreduce_seconds = 0;  ///< distributed: seconds in the gradient all-reduce since the last line
  int64_t report_steps = 0;        ///< steps since the last metrics line
  int threads = 0;                 ///< LibTorch intra-op threads
  common::BlasInfo blas;           ///< BLAS kernels in use
  std::vector<json> metrics, timing;  ///< every line of metrics.jsonl and timing.jsonl

  /// Ends the current training segment: adds its seconds to `state.elapsed_seconds` and the counters.
  void pause(TrainingState& state) {
    const double dt = seconds_since(segment_start);
    state.elapsed_seconds += dt, invocation_seconds += dt, report_seconds += dt;
  }
  /// Starts a new training segment.
  void resume() { segment_start = Clock::now(); }
  /// Training seconds of this invocation so far.
  double invocation_now() const { return invocation_seconds + seconds_since(segment_start); }
};

Trainer::Trainer(common::Config config, TrainOptions options)
    : config_(std::move(config)), options_(std::move(options)), device_(torch::kCPU), clock_(std::make_unique<RunClock>()) {
  group_ = options_.group != nullptr && options_.group->world_size() > 1 ? options_.group : nullptr;
  // A non-lead rank takes the resolved config and the vocabularies from rank 0 (its machine may not hold the run
  // directory) through a private directory that lives as long as the constructor.
  std::optional<common::TempDir> setup;
  if (lead()) {
    try {
      prepare_run_dir();
    } catch (const std::exception& e) {
      if (group_) publish_setup(e.what());
      throw;
    }
  } else {
    setup.emplace("nmt-rank" + std::to_string(group_->rank()));
    receive_setup(setup->path());
    config_ = common::load_config(setup->path() + "/config.json");
  }
  try {
    const auto& tc = config_.train;
    device_ = common::resolve_device(tc.device);
    if (group_ && !device_.is_cpu())
      throw std::invalid_argument("distributed training runs on the CPU (Gloo); set train.device to \"cpu\"");
    check_precision(tc.precision, device_);
    int64_t threads = tc.num_threads;
    if (group_) {  // the ranks on a machine share its cores
      const int64_t share = std::max<int64_t>(1, available_cores() / std::max<int64_t>(1, group_->local_world_size()));
      threads = threads > 0 ? std::min(threads, share) : share;
    }
    clock_->threads = common::set_num_threads(threads);
    clock_->blas = common::blas_info();
    spdlog::info("[train] device {}, LibTorch threads {}, {}, fused kernels {} ({})", device_.str(), clock_->threads,
                 clock_->blas.describe(), ops::fused_enabled() ? "on" : "off (NMT_FUSED=0)",
                 kernels::isa_name(kernels::active_isa()));
    if (group_)
      spdlog::info("[dist] {} ranks, rendezvous {}; every rank: {} LibTorch thread(s), {} OpenBLAS thread(s)",
                   group_->world_size(), group_->url(), clock_->threads, clock_->blas.openblas_threads);
    torch::manual_seed(tc.seed);
    load_data(setup ? setup->path() : options_.output_dir);

    bos_ = data_->tgt_vocab.bos();
    model_ = models::make_model(config_.model, data_->src_vocab.size(), data_->tgt_vocab.size());
    model_->to(device_);
    optimizer_ = std::make_unique<FusedAdam>(model_->parameters(), torch::optim::AdamOptions(tc.lr));
    spdlog::info("[train] model {}: {} parameters", config_.model.type, models::count_parameters(*model_));
    if (tc.precision != common::kPrecisionFp32)
      spdlog::info("[train] mixed precision {}: autocast on {}, float32 weights, softmax and loss{}", tc.precision,
                   device_.str(), tc.precision == common::kPrecisionFp16 ? ", dynamic loss scaling" : "");
    if (tc.precision == common::kPrecisionFp16) scaler_ = std::make_unique<LossScaler>();
    if (lead() && tc.ema_decay > 0) {
      ema_ = std::make_unique<ExponentialAverage>(model_->parameters(), tc.ema_decay);
      spdlog::info("[train] exponential moving average of the weights: decay {} (about {:.0f} updates); "
                   "validation and best/ use it", tc.ema_decay, 1.0 / tc.ema_decay);
      if (tc.ema_decay > 0.1)
        spdlog::warn("[train] train.ema_decay = {} is the weight of the newest weights in each update (Marian's "
                     "exponential-smoothing): it averages over about {:.0f} updates only; an EMA decay of 0.9999 "
                     "in other toolkits is 1e-4 here", tc.ema_decay, 1.0 / tc.ema_decay);
    }
    if (group_ && !lead()) {
      // Ranks >= 1 draw their own dropout masks: a stream of their own, or the one their checkpoint saved.
      torch::manual_seed(tc.seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(group_->rank()));
      if (options_.resume) {
        load_training_state(setup->path(), *optimizer_, device_);
        state_ = TrainingState::from_json(json::parse(common::read_text(setup->path() + "/state.json")),
                                          "rank 0's state.json");
      }
    } else if (options_.resume) {
      restore();
    }
    if (group_) {
      if (lead()) publish_setup("");
      reducer_ = std::make_unique<GradientReducer>(model_->parameters());
      broadcast_parameters();
      spdlog::info("[dist] parameters broadcast from rank 0; gradients all-reduced in {} bucket(s)",
                   reducer_->num_buckets());
    }
  } catch (const std::exception& e) {
    if (group_ && lead() && !group_->store_has(kSetupReady)) publish_setup(e.what());
    throw;
  }
}

void Trainer::load_data(const std::string& vocab_dir) {
  // The split depends on the seed only; the vocabularies are built on the training split (or reloaded from
  // `vocab_dir`: the run directory on resume, rank 0's set-up files on the other ranks).
  const std::string& run_dir = options_.output_dir;
  const auto& dc = config_.data;
  const auto& tc = config_.train;
  const bool writer = lead();
  const data::TextOptions text = data::text_options(dc);
  const common::CorpusFiles train_files = dc.train ? *dc.train : common::CorpusFiles{dc.path, "", ""};
  const data::Corpus corpus = data::read_corpus(train_files, dc.num_examples, text);
  const data::Split split =
      data::split_by_source(corpus.pairs, dc.valid ? 0.0 : dc.valid_ratio, dc.test ? 0.0 : dc.test_ratio, tc.seed);
  if (split.train.empty()) throw std::invalid_argument(train_files.describe() + ": the training split is empty");
  // Only the lead validates and writes the held-out files.
  const HeldOut valid = writer ? held_out(dc.valid, corpus, split.valid, text) : HeldOut{};
  const HeldOut test = writer ? held_out(dc.test, corpus, split.test, text) : HeldOut{};
  spdlog::info("[data] {}-{}: {}: {} pairs -> train {} / valid {}{} / test {}{} (lowercase {}, d2l punctuation {})",
               dc.src_lang, dc.tgt_lang, train_files.describe(), corpus.pairs.size(), split.train.size(),
               valid.pairs.size(), dc.valid ? " (" + dc.valid->describe() + ")" : std::string(), test.pairs.size(),
               dc.test ? " (" + dc.test->describe() + ")" : std::string(), dc.lowercase, dc.d2l_punctuation);
  data_ = std::make_unique<RunData>();
  RunData& d = *data_;
  const bool subword = dc.tokenizer == common::kTokenizerSentencePiece;
  if (options_.resume || !writer) {
    d.src_vocab = data::Vocab::load(vocab_dir + "/src_vocab.txt");
    d.tgt_vocab = data::Vocab::load(vocab_dir + "/tgt_vocab.txt");
    d.src_tokenizer = data::Tokenizer::load(vocab_dir, "src", dc.tokenizer);
    d.tgt_tokenizer = data::Tokenizer::load(vocab_dir, "tgt", dc.tokenizer);
  } else {
    std::vector<std::vector<std::string>> src_sentences, tgt_sentences;
    for (int64_t i : split.train) {
      src_sentences.push_back(corpus.pairs[static_cast<std::size_t>(i)].source);
      tgt_sentences.push_back(corpus.pairs[static_cast<std::size_t>(i)].target);
    }
    const auto start = Clock::now();
    auto tokenizers = data::make_tokenizers(dc, src_sentences, tgt_sentences, clock_->threads);
    d.src_tokenizer = std::move(tokenizers.source);
    d.tgt_tokenizer = std::move(tokenizers.target);
    if (subword)
      spdlog::info("[data] trained {}SentencePiece {} model{} on the training split in {:.1f} s",
                   dc.sp_joint ? "one joint " : "", dc.sp_model_type, dc.sp_joint ? "" : "s", seconds_since(start));
    d.src_vocab = d.src_tokenizer.make_vocab(src_sentences, dc.min_freq);
    d.tgt_vocab = d.tgt_tokenizer.make_vocab(tgt_sentences, dc.min_freq);
    d.src_vocab.save(run_dir + "/src_vocab.txt");
    d.tgt_vocab.save(run_dir + "/tgt_vocab.txt");
    d.src_tokenizer.save(run_dir, "src");
    d.tgt_tokenizer.save(run_dir, "tgt");
    write_split_files(run_dir, "valid", valid.sources, valid.references);
    write_split_files(run_dir, "test", test.sources, test.references);
  }
  if (subword)
    spdlog::info("[data] vocab: source {} pieces, target {} pieces ({}, {}SentencePiece {})", d.src_vocab.size(),
                 d.tgt_vocab.size(), dc.sp_model_type, dc.sp_joint ? "one joint " : "", dc.sp_vocab_size);
  else
    spdlog::info("[data] vocab: source {} tokens, target {} tokens (min_freq {})", d.src_vocab.size(),
                 d.tgt_vocab.size(), dc.min_freq);
  if (subword && dc.sp_alpha > 0)  // kept to be re-segmented at each epoch start (sample_subwords)
    for (int64_t i : split.train) d.train_words.push_back(corpus.pairs[static_cast<std::size_t>(i)]);
  const auto train_tokens = data::tokenize_pairs(corpus.pairs, split.train, d.src_tokenizer, d.tgt_tokenizer);
  const auto valid_tokens =
      data::tokenize_pairs(valid.pairs, all_indices(valid.pairs.size()), d.src_tokenizer, d.tgt_tokenizer);
  spdlog::info("[data] num_steps {}: {:.2f}% of training pairs are cut ({} on source or target side)", dc.num_steps,
               100.0 * data::share_cut(train_tokens, dc.num_steps), subword ? "pieces" : "words");
  d.train = data::make_tensor_dataset(train_tokens, all_indices(train_tokens.size()), d.src_vocab, d.tgt_vocab,
                                      dc.num_steps);
  d.valid = data::make_tensor_dataset(valid_tokens, all_indices(valid_tokens.size()), d.src_vocab, d.tgt_vocab,
                                      dc.num_steps);
  for (const auto& pair : valid.pairs) {
    if (tc.valid_bleu_sentences > 0 && static_cast<int64_t>(d.bleu_sources.size()) >= tc.valid_bleu_sentences) break;
    d.bleu_sources.push_back(pair.source);
    d.bleu_references.push_back(data::join_tokens(pair.target));
  }
}

Trainer::Trainer(const common::Config& config, models::Seq2SeqModel model, int64_t bos)
    : config_(config), device_(torch::kCPU), model_(std::move(model)), bos_(bos) {
  const auto params = model_->parameters();
  if (!params.empty()) device_ = params.front().device();
  optimizer_ = std::make_unique<FusedAdam>(params, torch::optim::AdamOptions(config_.train.lr));
  check_precision(config_.train.precision, device_);
  if (config_.train.precision == common::kPrecisionFp16) scaler_ = std::make_unique<LossScaler>();
}

Trainer::~Trainer() = default;

void Trainer::prepare_run_dir() {
  const std::string& run_dir = options_.output_dir;
  if (run_dir.empty()) throw std::invalid_argument("an output directory is required (--output)");
  // A run is there once it has written a checkpoint or a metrics line; a first start that failed before that
  // (bad data path, device) leaves only config.json and the vocabularies, which a new start may replace.
  const fs::path dir(run_dir);
  const bool has_run = fs::exists(dir / "config.json") &&
                       (fs::exists(dir / "latest") || fs::exists(dir / "latest.old") || fs::exists(dir / "metrics.jsonl"));
  if (options_.resume) {
    common::recover_directory(run_dir + "/latest");
    if (!fs::exists(fs::path(run_dir) / "latest" / "model.pt"))
      throw std::invalid_argument("--resume: " + run_dir + " holds no checkpoint to resume from (latest/model.pt)");
    try {
      config_ = common::load_config(run_dir + "/config.json");
    } catch (const std::invalid_argument& e) {  // the message names the file and key
      throw std::runtime_error(std::string(e.what()) + " (corrupted run directory)");
    }
  } else if (has_run) {
    if (!options_.overwrite)
      throw std::invalid_argument(run_dir + " already holds a run; use --resume to continue it or --overwrite to replace it");
    for (const char* name : {"latest", "best", "latest.old", "best.old", "latest.tmp", "best.tmp", "metrics.jsonl",
                             "timing.jsonl", "curves.png", "curves.svg", "curves_minutes.png", "curves_minutes.svg",
                             "test.hyp", "valid.hyp", "eval_test.json", "eval_valid.json", "src_spm.model", "tgt_spm.model"})
      fs::remove_all(fs::path(run_dir) / name);
  }
  if (options_.num_epochs) config_.train.num_epochs = *options_.num_epochs;
  if (options_.max_minutes) config_.train.max_minutes = *options_.max_minutes;
  config_.validate();
  fs::create_directories(run_dir);
  common::write_text_atomic(run_dir + "/config.json", config_.to_json().dump(2) + "\n");
}

void Trainer::restore() {
  const std::string& run_dir = options_.output_dir;
  const std::string dir = run_dir + "/latest";
  // The average is read through the model (ema.pt, or model.pt when the checkpoint has none), then the raw weights.
  if (ema_) {
    const bool has_average = fs::is_regular_file(dir + "/ema.pt");
    if (!has_average) spdlog::warn("[train] {} has no ema.pt: the weight average starts from the resumed weights", dir);
    models::load_weights(*model_, dir + (has_average ? "/ema.pt" : "/model.pt"), device_);
    torch::NoGradGuard no_grad;
    const auto params = model_->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) ema_->values()[i].copy_(params[i]);
  }
  models::load_weights(*model_, dir + "/model.pt", device_);
  load_training_state(dir, *optimizer_, device_);
  const std::string state_file = dir + "/state.json";
  const json state = json::parse(common::read_text(state_file), nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded()) throw std::runtime_error(state_file + ": malformed JSON (corrupted checkpoint)");
  state_ = TrainingState::from_json(state, state_file);
  const int64_t world = group_ ? group_->world_size() : 1;
  if (state_.world_size != world)
    throw std::invalid_argument("--resume: " + run_dir + " was trained by " + std::to_string(state_.world_size) +
                                " process(es); resume it with the same number (--nproc " +
                                std::to_string(state_.world_size) + "), not " + std::to_string(world));
  if (state_.device != device_.str())
    spdlog::warn("[train] {} was trained on {} and resumes on {}: the weights carry over, but dropout masks (and "
                 "rounding) differ from an uninterrupted run", dir, state_.device, device_.str());
  if (scaler_ && state_.loss_scaler) scaler_ = std::make_unique<LossScaler>(*state_.loss_scaler);
  clock_->metrics = read_lines_up_to(run_dir + "/metrics.jsonl", state_.step);
  clock_->timing = read_lines_up_to(run_dir + "/timing.jsonl", state_.step);
  spdlog::info("[train] resuming {} after epoch {}{} (step {})", run_dir, state_.epoch,
               state_.batches_done ? " and " + std::to_string(state_.batches_done) + " batches" : std::string(),
               state_.step);
}

bool Trainer::lead() const { return group_ == nullptr || group_->rank() == 0; }

void Trainer::publish_setup(const std::string& error) {
  if (!error.empty()) {
    group_->store_set(kSetupError, error);
    return;
  }
  const std::string& run_dir = options_.output_dir;
  std::vector<std::pair<std::string, std::string>> files{{"config.json", config_.to_json().dump(2) + "\n"}};
  for (const char* name : {"src_vocab.txt", "tgt_vocab.txt"})
    files.emplace_back(name, common::read_text(run_dir + "/" + name));
  if (config_.data.tokenizer == common::kTokenizerSentencePiece)
    for (const char* side : {"src", "tgt"}) {
      const std::string name = data::Tokenizer::model_file(side);
      files.emplace_back(name, common::read_text(run_dir + "/" + name));
    }
  if (options_.resume) {
    for (const char* name : {"state.json", "optimizer.pt"})
      files.emplace_back(name, common::read_text(run_dir + "/latest/" + name));
    for (int64_t r = 1; r < group_->world_size(); ++r) {
      const std::string rng = run_dir + "/latest/rng_rank" + std::to_string(r) + ".pt";
      if (!fs::is_regular_file(rng)) throw std::runtime_error("cannot resume: " + rng + " is missing");
      group_->store_set(kSetupRngPrefix + std::to_string(r), common::read_text(rng));
    }
  }
  std::string names;
  for (const auto& [name, bytes] : files) {
    group_->store_set(kSetupFilePrefix + name, bytes);
    names += name + "\n";
  }
  group_->store_set(kSetupFiles, names);
  group_->store_set(kSetupResume, options_.resume ? "1" : "0");
  group_->store_set(kSetupReady, "1");
}

void Trainer::receive_setup(const std::string& dir) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(group_->timeout_s() * 1000));
  while (!group_->store_has(kSetupReady)) {
    if (group_->store_has(kSetupError))
      throw std::runtime_error("[dist] rank 0 could not set up the run: " + group_->store_get(kSetupError));
    if (Clock::now() > deadline)
      throw std::runtime_error("[dist] rank " + std::to_string(group_->rank()) + ": rank 0 did not publish the run's "
                               "set-up within train.dist_timeout_s (" +
                               std::to_string(static_cast<int64_t>(group_->timeout_s())) + " s)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::istringstream names(group_->store_get(kSetupFiles));
  for (std::string name; std::getline(names, name);)
    if (!name.empty()) common::write_text_atomic(dir + "/" + name, group_->store_get(kSetupFilePrefix + name));
  options_.resume = group_->store_get(kSetupResume) == "1";
  if (options_.resume)
    common::write_text_atomic(dir + "/rng.pt", group_->store_get(kSetupRngPrefix + std::to_string(group_->rank())));
}

void Trainer::broadcast_parameters() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  for (const auto& p : model_->parameters()) flat.push_back(p.detach().reshape({-1}));
  auto all = torch::cat(flat);
  group_->broadcast(all, 0);
  int64_t offset = 0;
  for (auto& p : model_->parameters()) {
    p.detach().copy_(all.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
}

uint64_t Trainer::sync_ranks() {
  torch::Tensor rng;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng = gen.get_state();
  }
  auto states = group_->allgather(rng.contiguous());
  rank_rng_states_.assign(states.begin() + 1, states.end());

  std::vector<torch::Tensor> tensors;
  for (const auto& p : model_->parameters()) {
    tensors.push_back(p.detach().contiguous());
    const auto it = optimizer_->state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
    if (it == optimizer_->state().end()) continue;
    const auto& st = static_cast<const torch::optim::AdamParamState&>(*it->second);
    tensors.push_back(st.exp_avg().contiguous());
    tensors.push_back(st.exp_avg_sq().contiguous());
    tensors.push_back(torch::full({1}, st.step(), torch::kLong));
  }
  const uint64_t mine = tensors_hash(tensors);
  int64_t as_signed;
  std::memcpy(&as_signed, &mine, sizeof as_signed);
  const auto hashes = group_->allgather(torch::full({1}, as_signed, torch::kLong));
  for (int64_t r = 1; r < group_->world_size(); ++r)
    if (const int64_t theirs = hashes[static_cast<std::size_t>(r)].item<int64_t>(); theirs != hashes[0].item<int64_t>()) {
      char text[64];
      std::snprintf(text, sizeof text, "%016llx vs %016llx", static_cast<unsigned long long>(theirs),
                    static_cast<unsigned long long>(hashes[0].item<int64_t>()));
      throw std::runtime_error("[dist] at step " + std::to_string(state_.step) + " the parameters and optimizer state of "
                               "rank " + std::to_string(r) + " differ from rank 0's (hash " + text +
                               "): the ranks have diverged (different builds or thread counts?)");
    }
  return mine;
}

double Trainer::invocation_time_progress() const {
  const double limit_seconds = config_.train.max_minutes * 60.0;
  return clock_ && limit_seconds > 0 ? clock_->invocation_now() / limit_seconds : 0.0;
}

double Trainer::schedule_progress() const {
  const auto& tc = config_.train;
  double p = 0;
  if (steps_per_epoch_ > 0)
    p = static_cast<double>(state_.step - 1) / static_cast<double>(std::max<int64_t>(1, tc.num_epochs * steps_per_epoch_));
  p = std::max(p, group_ ? time_progress_ : invocation_time_progress());
  return std::clamp(p, 0.0, 1.0);
}

StepResult Trainer::train_step(const data::Batch& b, StepTimes* times) {
  const auto& tc = config_.train;
  Clock::time_point t0, t1, t2, t3, t4;
  ++state_.step;
  const double lr = learning_rate(tc.lr_schedule, tc.lr, tc.warmup_steps, state_.step, schedule_progress());
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  for (auto& group : optimizer_->param_groups())  // cheaper than zero-filling every gradient
    for (auto& p : group.params()) p.mutable_grad().reset();
  if (group_) return distributed_step(b, lr, times);
  if (times) t0 = Clock::now();
  MaskedLoss l;
  {
    const ScopedAutocast autocast(device_, tc.precision);  // the forward pass and the loss; backward outside
    auto features = model_->forward_features(b.src, b.src_valid_len, teacher_forcing_input(b.tgt, bos_));
    if (times) t1 = Clock::now();
    l = masked_cross_entropy(*model_, features, b.tgt, b.tgt_valid_len, tc.label_smoothing);
  }
  const double loss_sum = l.sum.item<double>();
  if (!std::isfinite(loss_sum))
    throw std::runtime_error("training diverged: the loss is not finite in epoch " + std::to_string(state_.epoch + 1) +
                             ", step " + std::to_string(state_.step) + "; the weights were not updated with it" +
                             (options_.output_dir.empty() ? std::string()
                                                          : ", and the last good checkpoint is " + options_.output_dir +
                                                                "/latest") +
                             " (try a lower train.lr)");
  if (times) t2 = Clock::now();
  StepResult r;
  r.loss_sum = l.sum.detach(), r.tokens = l.num_tokens, r.loss_sum_value = loss_sum, r.lr = lr, r.step = state_.step;
  if (scaler_) {
    (l.mean() * scaler_->scale()).backward();
    const bool finite = scaler_->unscale(model_->parameters());
    scaler_->update(finite);
    if (!finite) {  // GradScaler's rule: an update with overflowed fp16 gradients is skipped, the scale halved
      spdlog::warn("[train] fp16: gradients overflowed at step {}; update skipped, loss scale now {} ({} skipped)",
                   state_.step, scaler_->scale(), scaler_->state().skipped_steps);
      r.skipped = true;
      return r;
    }
  } else {
    l.mean().backward();
  }
  if (times) t3 = Clock::now();
  if (tc.grad_clip > 0) optimizer_->clip_grad_norm(tc.grad_clip);
  if (times) t4 = Clock::now();
  optimizer_->step();
  if (ema_) ema_->update(model_->parameters(), state_.step);
  if (times) {
    const auto t5 = Clock::now();
    auto s = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    times->forward += s(t0, t1), times->loss += s(t1, t2), times->backward += s(t2, t3), times->clip += s(t3, t4);
    times->adam += s(t4, t5);
  }
  return r;
}

StepResult Trainer::distributed_step(const data::Batch& b, double lr, StepTimes* times) {
  const auto& tc = config_.train;
  auto s = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t0 = Clock::now();
  double local_loss = 0, local_tokens = 0;
  Clock::time_point t1 = t0, t2 = t0;
  if (b.size() > 0) {  // the last global batch of an epoch may leave a rank without rows
    MaskedLoss l;
    {
      const ScopedAutocast autocast(device_, tc.precision);
      auto features = model_->forward_features(b.src, b.src_valid_len, teacher_forcing_input(b.tgt, bos_));
      t1 = Clock::now();
      l = masked_cross_entropy(*model_, features, b.tgt, b.tgt_valid_len, tc.label_smoothing);
    }
    local_loss = l.sum.item<double>();
    local_tokens = l.num_tokens.item<double>();
    t2 = Clock::now();
    if (std::isfinite(local_loss)) l.sum.backward();  // summed, not averaged: divided by all ranks' tokens below
  }
  const auto t3 = Clock::now();
  const std::vector<double> sums = reducer_->reduce(
      *group_, {local_tokens, local_loss, g_signal.load() != 0 ? 1.0 : 0.0, lead() ? invocation_time_progress() : 0.0});
  const double tokens = sums[0], loss_sum = sums[1];
  if (!std::isfinite(loss_sum))
    throw std::runtime_error("training diverged: the loss is not finite in epoch " + std::to_string(state_.epoch + 1) +
                             ", step " + std::to_string(state_.step) + " (summed over " +
                             std::to_string(group_->world_size()) + " ranks); the weights were not updated with it" +
                             (options_.output_dir.empty() ? std::string()
                                                          : ", and the last good checkpoint is " + options_.output_dir +
                                                                "/latest") +
                             " (try a lower train.lr)");
  reducer_->scale_into_grads(1.0 / std::max(1.0, tokens));
  const auto t5 = Clock::now();
  if (tc.grad_clip > 0) optimizer_->clip_grad_norm(tc.grad_clip);
  const auto t6 = Clock::now();
  optimizer_->step();
  if (ema_) ema_->update(model_->parameters(), state_.step);
  if (times) {
    const auto t7 = Clock::now();
    times->forward += s(t0, t1), times->loss += s(t1, t2), times->backward += s(t2, t3);
    times->allreduce += s(t3, t5), times->clip += s(t5, t6), times->adam += s(t6, t7);
  }
  StepResult r;
  r.loss_sum = torch::full({}, loss_sum, torch::kFloat);
  r.tokens = torch::full({}, tokens, torch::kFloat);
  r.loss_sum_value = loss_sum, r.tokens_value = tokens, r.lr = lr, r.step = state_.step;
  time_progress_ = sums[3];  // rank 0's share of its time limit: the schedule's clock, and the stop at >= 1
  r.stop_signal = sums[2] > 0, r.stop_time = time_progress_ >= 1.0;
  return r;
}

std::optional<Validation> Trainer::validate() {
  if (!data_) throw std::logic_error("Trainer::validate needs a run-mode Trainer");
  const RunData& d = *data_;
  if (d.valid.size() == 0) return std::nullopt;
  const bool was_training = model_->is_training();
  const double smoothing = config_.train.label_smoothing;
  Validation v;
  {
    torch::NoGradGuard no_grad;
    model_->eval();
    const auto options = torch::TensorOptions().device(device_);
    auto sum = torch::zeros({}, options), objective_sum = torch::zeros({}, options), tokens = torch::zeros({}, options);
    for (const auto& index : data::sequential_batches(d.valid.size(), config_.train.batch_size)) {
      const data::Batch b = data::gather_batch(d.valid, index, /*trim=*/true).to(device_);
      auto features = model_->forward_features(b.src, b.src_valid_len, teacher_forcing_input(b.tgt, bos_));
      const MaskedLoss l = masked_cross_entropy(*model_, features, b.tgt, b.tgt_valid_len);
      sum += l.sum;
      tokens += l.num_tokens;
      if (smoothing > 0)
        objective_sum += masked_cross_entropy(*model_, features, b.tgt, b.tgt_valid_len, smoothing).sum;
    }
    v.loss = (sum / tokens).item<double>();
    v.objective = smoothing > 0 ? (objective_sum / tokens).item<double>() : v.loss;

    decoding::Translator translator(model_, d.src_vocab, d.tgt_vocab, device_, d.src_tokenizer, d.tgt_tokenizer);
    decoding::TranslateOptions topt;
    topt.search = decoding::search_options(config_.decode);
    topt.search.beam_size = config_.train.valid_beam_size;
    topt.batch_size = 256;
    std::vector<std::string> hyps;
    for (const auto& t : translator.translate_tokens(d.bleu_sources, topt)) hyps.push_back(t.text());
    v.bleu = metrics::corpus_bleu(hyps, d.bleu_references).score;
    v.bleu_sentences = static_cast<int64_t>(d.bleu_references.size());
  }
  model_->train(was_training);
  return v;
}

void Trainer::save(const std::string& dir, bool weights_only) {
  state_.world_size = group_ ? group_->world_size() : 1;
  state_.device = device_.str();
  state_.precision = config_.train.precision;
  state_.loss_scaler = scaler_ ? std::optional<LossScalerState>(scaler_->state()) : std::nullopt;
  save_checkpoint(dir, *model_, weights_only ? nullptr : optimizer_.get(), state_, config_, data_->src_vocab,
                  data_->tgt_vocab, data_->src_tokenizer, data_->tgt_tokenizer,
                  weights_only ? std::vector<torch::Tensor>{} : rank_rng_states_,
                  ema_ ? ema_->values() : std::vector<torch::Tensor>{});
}

void Trainer::keep_epoch_checkpoint(int64_t epoch) {
  const int64_t keep = config_.train.keep_checkpoints;
  if (keep <= 0) return;
  save(options_.output_dir + "/epoch_" + std::to_string(epoch), /*weights_only=*/true);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.output_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("epoch_", 0) != 0 || name.size() == 6 ||
        name.find_first_not_of("0123456789", 6) != std::string::npos)
      continue;
    if (std::stoll(name.substr(6)) <= epoch - keep) fs::remove_all(entry.path(), ec);
  }
}

void Trainer::report(json metrics_line, json timing_line, const std::string& summary) {
  RunClock& c = *clock_;
  const std::string& run_dir = options_.output_dir;
  c.metrics.push_back(std::move(metrics_line));
  c.timing.push_back(std::move(timing_line));
  write_lines(run_dir + "/metrics.jsonl", c.metrics);
  write_lines(run_dir + "/timing.jsonl", c.timing);
  if (options_.write_curves)
    options_.write_curves(c.metrics, c.timing, run_dir, config_.model.type + " — " + fs::path(run_dir).filename().string());
  spdlog::info("{}", summary);
}

void Trainer::validation_point(int64_t epoch, int64_t batches_done, int64_t num_batches, const torch::Tensor& loss_sum,
                               const torch::Tensor& token_sum, double lr) {
  RunClock& c = *clock_;
  const auto& tc = config_.train;
  const bool mid_epoch = batches_done < num_batches;
  c.pause(state_);
  const double train_loss = (loss_sum / token_sum.clamp_min(1)).item<double>();
  const double tokens = token_sum.item<double>();
  if (!std::isfinite(train_loss))
    throw std::runtime_error("training diverged: the loss is " + std::to_string(train_loss) + " in epoch " +
                             std::to_string(epoch) + " (step " + std::to_string(state_.step) +
                             "); the last good checkpoint is " + options_.output_dir + "/latest");
  double window_loss = 0, window_tokens = 0;
  for (std::size_t i = 0; i < state_.window_loss_sums.size(); ++i)
    window_loss += state_.window_loss_sums[i], window_tokens += state_.window_tokens[i];
  if (mid_epoch) {
    state_.batches_done = batches_done;
    state_.partial_loss_sum = loss_sum.item<double>();
    state_.partial_tokens = tokens;
  } else {
    state_.epoch = epoch;
    state_.batches_done = 0, state_.partial_loss_sum = 0, state_.partial_tokens = 0;
  }

  if (group_) {  // every rank: RNG states for the checkpoint, and the check that no rank has diverged
    sync_ranks();
    if (!lead()) {
      c.report_seconds = 0, c.report_tokens = 0, c.report_allreduce_seconds = 0, c.report_steps = 0;
      c.resume();
      return;
    }
  }
  const auto validation_start = Clock::now();
  std::optional<Validation> v;
  if (ema_) {
    const ScopedWeights averaged(model_->parameters(), ema_->values());
    v = validate();
  } else {
    v = validate();
  }
  json m{{"epoch", epoch},
         {"step", state_.step},
         {"mid_epoch", mid_epoch},
         {"epoch_fraction", static_cast<double>(batches_done) / static_cast<double>(num_batches)},
         {"train_loss", train_loss},
         {"train_loss_window", window_loss / std::max(1.0, window_tokens)},
         {"window_steps", state_.window_loss_sums.size()},
         {"lr", lr},
         {"tokens", tokens}};
  const double score = v ? v->bleu : -train_loss;
  if (v) {
    m["valid_loss"] = v->loss;
    if (tc.label_smoothing > 0) m["valid_objective"] = v->objective;
    m["valid_bleu"] = v->bleu;
    m["valid_bleu_sentences"] = v->bleu_sentences;
  }
  const bool improved = score > state_.best_score;
  if (improved) state_.best_score = score, state_.best_epoch = epoch, state_.best_step = state_.step;
  m["best"] = improved;
  m["best_epoch"] = state_.best_epoch;
  m["best_step"] = state_.best_step;
  const double validation_seconds = seconds_since(validation_start);
  json t{{"epoch", epoch},
         {"step", state_.step},
         {"train_seconds", c.report_seconds},
         {"tokens_per_second", c.report_tokens / std::max(1e-9, c.report_seconds)},
         {"elapsed_seconds", state_.elapsed_seconds},
         {"validation_seconds", validation_seconds},
         {"num_threads", c.threads},
         {"blas", c.blas.to_json()},
         {"device", device_.str()},
         {"precision", tc.precision}};
  if (scaler_) t["loss_scale"] = scaler_->scale(), t["skipped_steps"] = scaler_->state().skipped_steps;
  if (group_) {
    t["world_size"] = group_->world_size();
    t["allreduce_seconds_per_step"] = c.report_allreduce_seconds / std::max<int64_t>(1, c.report_steps);
  }

  std::ostringstream line;
  line.precision(4);
  line << "[train] epoch " << epoch << "/" << tc.num_epochs;
  if (mid_epoch) line << " (" << batches_done << "/" << num_batches << " batches)";
  line << " step " << state_.step << " loss " << train_loss;
  if (v) line << " valid_loss " << v->loss << " valid_bleu " << v->bleu;
  line.precision(0);
  line << std::fixed << " " << c.report_tokens / std::max(1e-9, c.report_seconds) << " tok/s elapsed "
       << format_duration(state_.elapsed_seconds) << (improved ? " *" : "");
  c.report_seconds = 0, c.report_tokens = 0, c.report_allreduce_seconds = 0, c.report_steps = 0;

  report(std::move(m), std::move(t), line.str());
  save(options_.output_dir + "/latest");
  if (improved) save(options_.output_dir + "/best");
  if (!mid_epoch) keep_epoch_checkpoint(epoch);
  c.resume();
}

void Trainer::sample_subwords(int64_t epoch) {
  const auto& dc = config_.data;
  RunData& d = *data_;
  // A seed from (seed, epoch) alone: a resumed epoch sees the segmentations it saw before.
  const auto seed = static_cast<uint32_t>((config_.train.seed * 1000003ULL + static_cast<uint64_t>(epoch)) % 0x7fffffffULL);
  const auto tokens = data::tokenize_pairs(d.train_words, all_indices(d.train_words.size()), d.src_tokenizer,
                                           d.tgt_tokenizer, dc.sp_alpha, seed);
  d.train = data::make_tensor_dataset(tokens, all_indices(tokens.size()), d.src_vocab, d.tgt_vocab, dc.num_steps);
}

bool Trainer::run_epoch(int64_t epoch) {
  const auto& tc = config_.train;
  if (config_.data.sp_alpha > 0 && data_->src_tokenizer.is_subword()) sample_subwords(epoch);
  const RunData& d = *data_;
  RunClock& c = *clock_;
  const bool live = common::stderr_is_terminal();
  const double limit_seconds = tc.max_minutes * 60.0;
  model_->train();
  // A stopped epoch continues where it stopped: same batches (they depend on seed and epoch only), same partial sums.
  const auto float_options = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  auto loss_sum = torch::full({}, state_.partial_loss_sum, float_options);
  auto token_sum = torch::full({}, state_.partial_tokens, float_options);
  // A distributed step takes world_size · batch_size pairs (drawn as one process with that batch size would),
  // and each rank the contiguous share of them at its rank: the batch is length-sorted when bucketing, so the
  // shares have similar lengths.
  const int64_t world = group_ ? group_->world_size() : 1;
  const auto batches = data::epoch_batches(d.train, tc.batch_size * world, tc.seed, epoch, tc.bucket);
  const auto num_batches = static_cast<int64_t>(batches.size());
  steps_per_epoch_ = num_batches;
  const std::size_t window = tc.valid_every_steps > 0 ? static_cast<std::size_t>(tc.valid_every_steps) : batches.size();
  const auto first_batch = static_cast<std::size_t>(state_.batches_done);
  const auto epoch_start = Clock::now();
  double lr = tc.lr, epoch_tokens = 0;
  auto last_draw = Clock::now();
  for (std::size_t bi = first_batch; bi < batches.size(); ++bi) {
    const data::Batch cpu_batch =
        group_ ? share_batch(d.train, batches[bi], group_->rank(), world) : data::gather_batch(d.train, batches[bi], true);
    const double local_tokens = group_ ? 0.0 : target_tokens(cpu_batch);
    const StepResult r = train_step(cpu_batch.to(device_));
    const double batch_tokens = group_ ? r.tokens_value : local_tokens;
    if (group_) c.report_allreduce_seconds += reducer_->last_seconds();
    ++c.report_steps;
    lr = r.lr;
    loss_sum += r.loss_sum;
    token_sum += r.tokens;
    epoch_tokens += batch_tokens, c.report_tokens += batch_tokens;
    state_.window_loss_sums.push_back(r.loss_sum_value);
    state_.window_tokens.push_back(batch_tokens);
    while (state_.window_loss_sums.size() > window) {
      state_.window_loss_sums.erase(state_.window_loss_sums.begin());
      state_.window_tokens.erase(state_.window_tokens.begin());
    }
    const auto done = static_cast<int64_t>(bi + 1);
    // Progress: a live line on a terminal (twice a second), a log line every 5 minutes otherwise.
    if (std::chrono::duration<double>(Clock::now() - last_draw).count() > (live ? 0.5 : 300.0)) {
      last_draw = Clock::now();
      const double epoch_secs = seconds_since(epoch_start);
      const double per_batch = epoch_secs / static_cast<double>(bi + 1 - first_batch);
      const double remaining = per_batch * static_cast<double>(num_batches - done) +
                               per_batch * static_cast<double>(num_batches) * static_cast<double>(tc.num_epochs - epoch);
      char text[160];
      std::snprintf(text, sizeof text, "[train] epoch %lld/%lld %3.0f%% loss %.3f %.0f tok/s ETA %s",
                    static_cast<long long>(epoch), static_cast<long long>(tc.num_epochs),
                    100.0 * static_cast<double>(done) / static_cast<double>(num_batches),
                    (loss_sum / token_sum).item<double>(), epoch_tokens / epoch_secs,
                    format_duration(limit_seconds > 0 ? std::min(remaining, limit_seconds - c.invocation_now())
                                                      : remaining).c_str());
      if (live) {
        std::fprintf(stderr, "\r%s   ", text);
        std::fflush(stderr);
      } else {
        spdlog::info("{}", text);
      }
    }
    if (done < num_batches && tc.valid_every_steps > 0 && state_.step % tc.valid_every_steps == 0) {
      if (live) std::fprintf(stderr, "\r%80s\r", "");
      validation_point(epoch, done, num_batches, loss_sum, token_sum, lr);
    }
    // A distributed run stops where the step's sums say (every rank sees the same), a single process where its
    // own flags do.
    const int local_sig = g_signal.load();
    const int sig = group_ ? (r.stop_signal ? (local_sig != 0 ? local_sig : SIGTERM) : 0) : local_sig;
    const bool out_of_time = group_ ? r.stop_time : invocation_time_progress() >= 1.0;
    if (sig == 0 && (done == num_batches || !out_of_time)) continue;  // the time limit at the last batch: below
    // Stopped inside the epoch (signal, or the time limit before its last batch): latest/ records the position.
    if (live) std::fprintf(stderr, "\n");
    c.pause(state_);
    c.resume();
    state_.batches_done = done;
    state_.partial_loss_sum = loss_sum.item<double>();
    state_.partial_tokens = token_sum.item<double>();
    if (group_) sync_ranks();
    if (lead()) save(options_.output_dir + "/latest");
    if (sig) {
      spdlog::warn("[train] signal {}: stopped in epoch {} after batch {}/{}; latest checkpoint written, "
                   "continue with --resume", sig, epoch, done, num_batches);
      throw TrainingInterrupted(sig);
    }
    spdlog::info("[train] stopped after {:.1f} minutes of training (train.max_minutes) in epoch {} after batch "
                 "{}/{}; latest checkpoint written, continue with --resume", tc.max_minutes, epoch, done, num_batches);
    return false;
  }
  if (live) std::fprintf(stderr, "\r%80s\r", "");
  validation_point(epoch, num_batches, num_batches, loss_sum, token_sum, lr);
  const bool out_of_time = lead() && invocation_time_progress() >= 1.0;
  if (group_ ? group_->any(out_of_time) : out_of_time) {
    spdlog::info("[train] stopped after {:.1f} minutes of training (train.max_minutes) at the end of epoch {}",
                 tc.max_minutes, epoch);
    return false;
  }
  return true;
}

TrainResult Trainer::run() {
  if (!data_) throw std::logic_error("Trainer::run needs a run-mode Trainer");
  SignalGuard signals;
  const auto& tc = config_.train;
  clock_->resume();
  for (int64_t epoch = state_.epoch + 1; epoch <= tc.num_epochs; ++epoch)
    if (!run_epoch(epoch)) break;
  double train_loss = 0;
  for (auto it = clock_->metrics.rbegin(); it != clock_->metrics.rend(); ++it)
    if (!it->value("mid_epoch", false)) {
      train_loss = it->at("train_loss").get<double>();
      break;
    }
  if (group_) {
    const uint64_t hash = sync_ranks();
    spdlog::info("[dist] parameters and optimizer state are bit-identical on all {} ranks (hash {:016x})",
                 group_->world_size(), hash);
  }
  spdlog::info("[train] done: {} epochs in {}, best epoch {} (step {}); run directory {}", state_.epoch,
               format_duration(state_.elapsed_seconds), state_.best_epoch, state_.best_step, options_.output_dir);
  return {state_.epoch, train_loss, state_.best_score, state_.elapsed_seconds};
}

TrainResult train(common::Config config, const TrainOptions& options) {
  return Trainer(std::move(config), options).run();
}

}  // namespace nmt::train
