#include "train/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/blas.h"
#include "common/device.h"
#include "common/io.h"
#include "common/logging.h"
#include "data/corpus.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "data/split.h"
#include "data/vocab.h"
#include "decoding/translator.h"
#include "metrics/bleu.h"
#include "models/checkpoint.h"
#include "models/model_factory.h"
#include "plot/plot.h"
#include "train/checkpoint.h"
#include "train/loss.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

namespace nmt::train {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

TrainingInterrupted::TrainingInterrupted(int signal_number)
    : std::runtime_error("training interrupted by signal " + std::to_string(signal_number)),
      signal_number_(signal_number) {}

namespace {

std::atomic<int> g_signal{0};

extern "C" void record_signal(int signal_number) { g_signal = signal_number; }

/// Routes SIGINT and SIGTERM to a flag the training loop polls after each step; restores the old handlers.
class SignalGuard {
 public:
  SignalGuard() {
    g_signal = 0;
    struct sigaction action {};
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
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

/// The corpus cut into splits, with vocabularies built on the training split.
struct PreparedData {
  data::Vocab src_vocab, tgt_vocab;
  data::TensorDataset train, valid;
  std::vector<std::vector<std::string>> valid_sources;
  std::vector<std::string> valid_references;
};

void write_split_files(const std::string& run_dir, const std::string& name, const std::vector<data::SentencePair>& pairs,
                       const std::vector<int64_t>& indices) {
  std::string src, ref;
  for (int64_t i : indices) {
    src += data::join_tokens(pairs[static_cast<std::size_t>(i)].source) + "\n";
    ref += data::join_tokens(pairs[static_cast<std::size_t>(i)].target) + "\n";
  }
  common::write_text_atomic(run_dir + "/" + name + ".src", src);
  common::write_text_atomic(run_dir + "/" + name + ".ref", ref);
}

PreparedData prepare_data(const common::Config& config, const std::string& run_dir, bool resume) {
  const auto& dc = config.data;
  data::Corpus corpus = data::read_corpus(dc.path, dc.num_examples);
  data::Split split = data::split_by_source(corpus.pairs, dc.valid_ratio, dc.test_ratio, config.train.seed);
  spdlog::info("[data] {}: {} pairs -> train {} / valid {} / test {}", dc.path, corpus.pairs.size(),
               split.train.size(), split.valid.size(), split.test.size());
  if (split.train.empty()) throw std::invalid_argument(dc.path + ": the training split is empty");

  PreparedData d;
  if (resume) {
    d.src_vocab = data::Vocab::load(run_dir + "/src_vocab.txt");
    d.tgt_vocab = data::Vocab::load(run_dir + "/tgt_vocab.txt");
  } else {
    std::vector<std::vector<std::string>> src_sentences, tgt_sentences;
    for (int64_t i : split.train) {
      src_sentences.push_back(corpus.pairs[static_cast<std::size_t>(i)].source);
      tgt_sentences.push_back(corpus.pairs[static_cast<std::size_t>(i)].target);
    }
    d.src_vocab = data::Vocab::build(src_sentences, dc.min_freq);
    d.tgt_vocab = data::Vocab::build(tgt_sentences, dc.min_freq);
    d.src_vocab.save(run_dir + "/src_vocab.txt");
    d.tgt_vocab.save(run_dir + "/tgt_vocab.txt");
    write_split_files(run_dir, "valid", corpus.pairs, split.valid);
    write_split_files(run_dir, "test", corpus.pairs, split.test);
  }
  spdlog::info("[data] vocab: source {} tokens, target {} tokens (min_freq {})", d.src_vocab.size(),
               d.tgt_vocab.size(), dc.min_freq);
  d.train = data::make_tensor_dataset(corpus.pairs, split.train, d.src_vocab, d.tgt_vocab, dc.num_steps);
  d.valid = data::make_tensor_dataset(corpus.pairs, split.valid, d.src_vocab, d.tgt_vocab, dc.num_steps);
  for (int64_t i : split.valid) {
    d.valid_sources.push_back(corpus.pairs[static_cast<std::size_t>(i)].source);
    d.valid_references.push_back(data::join_tokens(corpus.pairs[static_cast<std::size_t>(i)].target));
  }
  return d;
}

/// Decoder input for teacher forcing: `<bos>` followed by the target without its last token. `[batch, steps]`.
torch::Tensor teacher_forcing_input(const torch::Tensor& tgt, int64_t bos) {
  auto bos_column = torch::full({tgt.size(0), 1}, bos, tgt.options());
  return torch::cat({bos_column, tgt.narrow(1, 0, tgt.size(1) - 1)}, 1);
}

/// Mean masked cross-entropy per token over a dataset, without gradients (eval mode).
double evaluate_loss(models::Seq2SeqModelImpl& model, const data::TensorDataset& data, int64_t batch_size, int64_t bos,
                     const c10::Device& device) {
  if (data.size() == 0) return std::nan("");
  torch::NoGradGuard no_grad;
  model.eval();
  auto sum = torch::zeros({}, torch::TensorOptions().device(device));
  auto tokens = torch::zeros({}, torch::TensorOptions().device(device));
  for (const auto& index : data::sequential_batches(data.size(), batch_size)) {
    const data::Batch b = data::gather_batch(data, index, /*trim=*/true).to(device);
    auto features = model.forward_features(b.src, b.src_valid_len, teacher_forcing_input(b.tgt, bos));
    const MaskedLoss l = masked_cross_entropy(model, features, b.tgt, b.tgt_valid_len);
    sum += l.sum;
    tokens += l.num_tokens;
  }
  return (sum / tokens).item<double>();
}

std::vector<json> read_metrics(const std::string& path, int64_t up_to_epoch) {
  std::vector<json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("epoch", int64_t{0}) <= up_to_epoch) lines.push_back(j);
  }
  return lines;
}

void write_curves(const std::vector<json>& metrics, const std::string& run_dir, const std::string& title) {
  plot::Series train{"train loss", {}, {}}, valid{"valid loss", {}, {}}, bleu{"valid BLEU", {}, {}};
  for (const auto& m : metrics) {
    const double epoch = m.at("epoch").get<double>();
    train.x.push_back(epoch), train.y.push_back(m.at("train_loss").get<double>());
    if (m.contains("valid_loss") && m["valid_loss"].is_number())
      valid.x.push_back(epoch), valid.y.push_back(m["valid_loss"].get<double>());
    if (m.contains("valid_bleu") && m["valid_bleu"].is_number())
      bleu.x.push_back(epoch), bleu.y.push_back(m["valid_bleu"].get<double>());
  }
  std::vector<plot::Series> losses{train};
  if (!valid.x.empty()) losses.push_back(valid);
  std::vector<plot::Series> scores;
  if (!bleu.x.empty()) scores.push_back(bleu);
  try {
    plot::write_curves(losses, scores, title, run_dir + "/curves.png");
    plot::write_curves(losses, scores, title, run_dir + "/curves.svg");
  } catch (const std::exception& e) {
    spdlog::warn("[train] could not draw the training curves: {}", e.what());
  }
}

}  // namespace

TrainResult train(common::Config config, const TrainOptions& options) {
  const std::string& run_dir = options.output_dir;
  if (run_dir.empty()) throw std::invalid_argument("an output directory is required (--output)");
  const bool has_run = fs::exists(fs::path(run_dir) / "config.json");
  if (options.resume) {
    common::recover_directory(run_dir + "/latest");
    if (!fs::exists(fs::path(run_dir) / "latest" / "model.pt"))
      throw std::invalid_argument("--resume: " + run_dir + " holds no checkpoint to resume from (latest/model.pt)");
    config = common::load_config(run_dir + "/config.json");
  } else if (has_run) {
    if (!options.overwrite)
      throw std::invalid_argument(run_dir + " already holds a run; use --resume to continue it or --overwrite to replace it");
    for (const char* name : {"latest", "best", "latest.old", "best.old", "metrics.jsonl", "timing.jsonl"})
      fs::remove_all(fs::path(run_dir) / name);
  }
  if (options.num_epochs) config.train.num_epochs = *options.num_epochs;
  if (options.max_minutes) config.train.max_minutes = *options.max_minutes;
  config.validate();
  fs::create_directories(run_dir);
  common::write_text_atomic(run_dir + "/config.json", config.to_json().dump(2) + "\n");

  const auto& tc = config.train;
  const c10::Device device = common::resolve_device(tc.device);
  const int threads = common::set_num_threads(tc.num_threads);
  const common::BlasInfo blas = common::blas_info();
  spdlog::info("[train] device {}, LibTorch threads {}, {}", device.str(), threads, blas.describe());
  torch::manual_seed(tc.seed);

  PreparedData data = prepare_data(config, run_dir, options.resume);
  const int64_t bos = data.tgt_vocab.bos();
  models::Seq2SeqModel model = models::make_model(config.model, data.src_vocab.size(), data.tgt_vocab.size());
  model->to(device);
  FusedAdam optimizer(model->parameters(), torch::optim::AdamOptions(tc.lr));
  spdlog::info("[train] model {}: {} parameters", config.model.type, models::count_parameters(*model));

  TrainingState state;
  std::vector<json> metrics, timing;
  if (options.resume) {
    const std::string dir = run_dir + "/latest";
    models::load_weights(*model, dir + "/model.pt", device);
    load_training_state(dir, optimizer);
    state = TrainingState::from_json(json::parse(common::read_text(dir + "/state.json")), dir + "/state.json");
    metrics = read_metrics(run_dir + "/metrics.jsonl", state.epoch);
    timing = read_metrics(run_dir + "/timing.jsonl", state.epoch);
    spdlog::info("[train] resuming {} after epoch {}{} (step {})", run_dir, state.epoch,
                 state.batches_done ? " and " + std::to_string(state.batches_done) + " batches" : std::string(),
                 state.step);
  }

  const bool has_valid = data.valid.size() > 0;
  decoding::Translator translator(model, data.src_vocab, data.tgt_vocab, config.data.num_steps, device);
  std::vector<std::vector<std::string>> bleu_sources = data.valid_sources;
  std::vector<std::string> bleu_refs = data.valid_references;
  if (tc.valid_bleu_sentences > 0 && static_cast<int64_t>(bleu_sources.size()) > tc.valid_bleu_sentences) {
    bleu_sources.resize(static_cast<std::size_t>(tc.valid_bleu_sentences));
    bleu_refs.resize(static_cast<std::size_t>(tc.valid_bleu_sentences));
  }

  std::vector<torch::Tensor> params = model->parameters();
  SignalGuard signals;
  const bool live = common::stderr_is_terminal();
  const double limit_seconds = tc.max_minutes * 60.0;
  bool out_of_time = false;
  double train_loss = 0;
  for (int64_t epoch = state.epoch + 1; epoch <= tc.num_epochs && !out_of_time; ++epoch) {
    model->train();
    const auto epoch_start = Clock::now();
    const double elapsed_before = state.elapsed_seconds;
    // An interrupted epoch continues where it stopped: same batches (they depend on seed and epoch only),
    // same partial sums.
    const auto float_options = torch::TensorOptions().dtype(torch::kFloat).device(device);
    auto loss_sum = torch::full({}, state.partial_loss_sum, float_options);
    auto token_sum = torch::full({}, state.partial_tokens, float_options);
    const auto batches = data::epoch_batches(data.train, tc.batch_size, tc.seed, epoch, tc.bucket);
    double lr = tc.lr;
    auto last_draw = Clock::now();
    const auto first_batch = static_cast<std::size_t>(state.batches_done);
    const double resumed_tokens = state.partial_tokens;
    state.batches_done = 0, state.partial_loss_sum = 0, state.partial_tokens = 0;
    int64_t done = 0;
    for (std::size_t bi = first_batch; bi < batches.size(); ++bi) {
      const data::Batch b = data::gather_batch(data.train, batches[bi], /*trim=*/true).to(device);
      ++state.step;
      lr = learning_rate(tc.lr_schedule, tc.lr, tc.warmup_steps, state.step);
      for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
      for (auto& p : params) p.mutable_grad().reset();  // cheaper than zero-filling every gradient
      auto features = model->forward_features(b.src, b.src_valid_len, teacher_forcing_input(b.tgt, bos));
      const MaskedLoss l = masked_cross_entropy(*model, features, b.tgt, b.tgt_valid_len, tc.label_smoothing);
      if (!std::isfinite(l.sum.item<double>()))
        throw std::runtime_error("training diverged: the loss is not finite in epoch " + std::to_string(epoch) +
                                 ", step " + std::to_string(state.step) + "; the weights were not updated with it, " +
                                 "and the last good checkpoint is " + run_dir + "/latest (try a lower train.lr)");
      l.mean().backward();
      if (tc.grad_clip > 0) optimizer.clip_grad_norm(tc.grad_clip);
      optimizer.step();
      loss_sum += l.sum.detach();
      token_sum += l.num_tokens;
      ++done;
      const double elapsed = elapsed_before + seconds_since(epoch_start);
      // Progress: a live line on a terminal (twice a second), a log line every 5 minutes otherwise.
      if (std::chrono::duration<double>(Clock::now() - last_draw).count() > (live ? 0.5 : 300.0)) {
        last_draw = Clock::now();
        const double frac = static_cast<double>(first_batch + done) / static_cast<double>(batches.size());
        const double epoch_secs = seconds_since(epoch_start);
        const double per_batch = epoch_secs / static_cast<double>(done);
        const double remaining = per_batch * static_cast<double>(batches.size() - first_batch - done) +
                                 per_batch * static_cast<double>(batches.size()) * static_cast<double>(tc.num_epochs - epoch);
        char text[160];
        std::snprintf(text, sizeof text, "[train] epoch %lld/%lld %3.0f%% loss %.3f %.0f tok/s ETA %s",
                      static_cast<long long>(epoch), static_cast<long long>(tc.num_epochs), 100 * frac,
                      (loss_sum / token_sum).item<double>(), (token_sum.item<double>() - resumed_tokens) / epoch_secs,
                      format_duration(limit_seconds > 0 ? std::min(remaining, limit_seconds - elapsed) : remaining).c_str());
        if (live) {
          std::fprintf(stderr, "\r%s   ", text);
          std::fflush(stderr);
        } else {
          spdlog::info("{}", text);
        }
      }
      if (const int sig = g_signal.load()) {
        if (live) std::fprintf(stderr, "\n");
        state.batches_done = static_cast<int64_t>(bi + 1);
        state.partial_loss_sum = loss_sum.item<double>();
        state.partial_tokens = token_sum.item<double>();
        state.elapsed_seconds = elapsed;
        save_checkpoint(run_dir + "/latest", *model, &optimizer, state, config, data.src_vocab, data.tgt_vocab);
        spdlog::warn("[train] signal {}: stopped in epoch {} after batch {}/{}; latest checkpoint written, "
                     "continue with --resume", sig, epoch, bi + 1, batches.size());
        throw TrainingInterrupted(sig);
      }
      if (limit_seconds > 0 && elapsed >= limit_seconds) {
        out_of_time = true;
        break;
      }
    }
    if (live) std::fprintf(stderr, "\r%80s\r", "");
    const double train_seconds = seconds_since(epoch_start);
    const double tokens = token_sum.item<double>();
    const double session_tokens = tokens - resumed_tokens;
    train_loss = (loss_sum / token_sum.clamp_min(1)).item<double>();
    if (!std::isfinite(train_loss))
      throw std::runtime_error("training diverged: the loss is " + std::to_string(train_loss) + " in epoch " +
                                  std::to_string(epoch) + " (step " + std::to_string(state.step) +
                                  "); the last good checkpoint is " + run_dir + "/latest");
    state.epoch = epoch;
    state.elapsed_seconds = elapsed_before + train_seconds;

    json m{{"epoch", epoch},
           {"step", state.step},
           {"train_loss", train_loss},
           {"lr", lr},
           {"tokens", tokens},
           {"num_threads", threads},
           {"blas", blas.to_json()}};
    timing.push_back({{"epoch", epoch},
                      {"tokens_per_second", session_tokens / train_seconds},
                      {"train_seconds", train_seconds},
                      {"elapsed_seconds", state.elapsed_seconds}});
    if (out_of_time) m["partial_epoch"] = true;
    double score = -train_loss;
    if (has_valid) {
      const double valid_loss = evaluate_loss(*model, data.valid, tc.batch_size, bos, device);
      decoding::TranslateOptions topt;
      topt.batch_size = 256;
      std::vector<std::string> hyps;
      for (const auto& t : translator.translate_tokens(bleu_sources, topt)) hyps.push_back(t.text());
      const metrics::CorpusBleu bleu = metrics::corpus_bleu(hyps, bleu_refs);
      score = bleu.score;
      m["valid_loss"] = valid_loss;
      m["valid_bleu"] = bleu.score;
      m["valid_bleu_sentences"] = bleu_refs.size();
    }
    const bool improved = score > state.best_score;
    if (improved) state.best_score = score, state.best_epoch = epoch;
    m["best_epoch"] = state.best_epoch;
    metrics.push_back(m);

    for (const auto* lines : {&metrics, &timing}) {
      std::string text;
      for (const auto& line : *lines) text += line.dump() + "\n";
      common::write_text_atomic(run_dir + (lines == &metrics ? "/metrics.jsonl" : "/timing.jsonl"), text);
    }
    save_checkpoint(run_dir + "/latest", *model, &optimizer, state, config, data.src_vocab, data.tgt_vocab);
    if (improved) save_checkpoint(run_dir + "/best", *model, &optimizer, state, config, data.src_vocab, data.tgt_vocab);
    write_curves(metrics, run_dir, config.model.type + " — " + fs::path(run_dir).filename().string());

    std::ostringstream line;
    line.precision(4);
    line << "[train] epoch " << epoch << "/" << tc.num_epochs << " loss " << train_loss;
    if (has_valid) line << " valid_loss " << m["valid_loss"].get<double>() << " valid_bleu " << m["valid_bleu"].get<double>();
    line.precision(0);
    line << std::fixed << " " << session_tokens / train_seconds << " tok/s elapsed " << format_duration(state.elapsed_seconds)
         << (improved ? " *" : "");
    spdlog::info("{}", line.str());
  }
  if (out_of_time) spdlog::info("[train] stopped after {:.1f} minutes (train.max_minutes)", tc.max_minutes);
  spdlog::info("[train] done: {} epochs in {}, best epoch {}; run directory {}", state.epoch,
               format_duration(state.elapsed_seconds), state.best_epoch, run_dir);
  return {state.epoch, train_loss, state.best_score, state.elapsed_seconds};
}

}  // namespace nmt::train
