// Training and decoding throughput of one model on the full fra-eng corpus, in the units d2l.ai reports
// (target tokens per second, §10.7 train_seq2seq), for comparison with bench/reference/torch_reference.py (our
// plain-PyTorch models of the same sizes).
//
//   nmt_bench --model transformer --hiddens 256 --ffn 1024 --batch 128 --warmup 3 --batches 30
//   nmt_bench --config configs/d2l_seq2seq.json --batches 20
//
// Prints one JSON object on stdout and one human-readable line on stderr. A benchmark, not a test.
//
// What is measured:
//  - training: W warm-up batches, then N timed batches of train::Trainer::train_step (teacher forcing
//    input `<bos>` + tgt[:, :-1], gradients reset, masked cross-entropy, backward, gradient-norm clipping,
//    Adam, the learning-rate schedule and the finiteness check), on d2l-like random batches (epoch_batches with bucket=false, gather_batch with trim=true). The
//    time includes gathering each batch. Tokens are counted as d2l counts them: Σ tgt valid_len.
//  - FLOP rate: the matrix-multiply work of each step (see step_flops) over its seconds, against the GEMM
//    ceiling of these kernels/threads: the sgemm rate of a square torch::mm (best of 2) probed in the same
//    process right before every timed step (GemmProbe), so that each step is compared with the machine's speed
//    of that moment. percent_of_ceiling is the median over the timed steps of (step rate / probe rate); the
//    aggregate rate over the median probe and the old single measurement after training are reported beside it.
//  - decoding: batched greedy search (decoding::Translator) over a fixed stride sample of corpus sentences,
//    and the same code with batch size 1 (d2l predict_seq2seq decodes one sentence at a time), the two
//    interleaved in --decode-rounds rounds (time_decoding_interleaved), with the
//    weights reached after the timed training batches (barely trained: output lengths are reported, since
//    the decoding time follows them; searches run at most num_steps steps). With --decode-beam K > 1, beam search
//    of beam K, batched and one at a time, runs in the same rounds.
//  - peak resident memory (getrusage ru_maxrss) after training and at the end.
//
// Data settings (forced so that the runs match d2l's load_data_nmt on the full file): data.num_examples null
// (all pairs; --num-examples N limits it for smoke runs), no valid/test split (the vocabularies are built on
// every pair), train.bucket false. The rest (num_steps 10, min_freq 2, lr, dropout, ...) comes from the
// defaults or --config, then from the flags.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/blas.h"
#include "common/memory.h"
#include "common/config.h"
#include "common/device.h"
#include "data/corpus.h"
#include "data/dataset.h"
#include "data/tokenizer.h"
#include "data/vocab.h"
#include "decoding/translator.h"
#include "models/model_factory.h"
#include "train/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// Peak resident set size of this process so far, in bytes (Linux reports ru_maxrss in KiB).
int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

/// FLOPs of one training step (forward + backward) counted from the matrix multiplies only, for a batch of
/// `batch` sentence pairs with `src_steps` / `tgt_steps` columns (after trimming), `src_tokens` = Σ source
/// valid_len and `tgt_tokens` = Σ target valid_len (the output layer runs on valid target positions only,
/// train::masked_cross_entropy). Not counted: embedding lookups, element-wise ops (GRU gates, tanh, softmax, LayerNorm,
/// dropout), the loss, gradient clipping and Adam — all O(params) or O(activations), not O(params·tokens).
///
/// Forward: a weight matrix of m parameters applied to one position costs 2·m FLOPs (multiply + add), so
/// each layer contributes 2·(weights it touches)·(positions it runs on); attention adds its score and
/// value matmuls, 2·d per (query, key) pair each. Backward costs twice the forward (gradients with respect
/// to the inputs and to the weights), so a step = 3 × forward. Sizes: E embed, H hiddens, L layers (the
/// Transformer decoder uses num_decoder_layers, 0 = L), F FFN width, V target vocabulary, B batch,
/// S = Σ src valid_len, N = Σ tgt valid_len, Ts/Tt the source/target columns.
///  - seq2seq: encoder GRU (packed, so S positions): 3H(E+H) + (L-1)·3H(2H) weights; decoder GRU on B·Tt
///    positions: 3H(E+2H) + (L-1)·3H(2H); output layer H·V on N.
///  - seq2seq_attention: as seq2seq, plus W_k (H²) on B·Ts encoder outputs, W_q (H²) on B·Tt queries, and
///    per (query, key) pair the score vector w_v (H) and the context bmm (H): 2·B·Tt·Ts·2H.
///  - transformer: per encoder layer on B·Ts positions 4H² (W_q, W_k, W_v, W_o) + 2HF (FFN) and attention
///    2·B·Ts·Ts·2H; per decoder layer on B·Tt positions 4H² (self) + 2H² (cross W_q, W_o) + 2HF, on B·Ts
///    positions 2H² (cross W_k, W_v), attention 2·B·Tt·Tt·2H (self, computed over the full square) +
///    2·B·Tt·Ts·2H (cross); output layer H·V on N.
double step_flops(const nmt::common::ModelConfig& m, int64_t tgt_vocab, int64_t batch, int64_t src_steps,
                  int64_t tgt_steps, int64_t src_tokens, int64_t tgt_tokens) {
  const double E = static_cast<double>(m.embed_size), H = static_cast<double>(m.num_hiddens);
  const double L = static_cast<double>(m.num_layers), F = static_cast<double>(m.ffn_num_hiddens);
  const double V = static_cast<double>(tgt_vocab), B = static_cast<double>(batch);
  const double Ts = static_cast<double>(src_steps), Tt = static_cast<double>(tgt_steps);
  const double S = static_cast<double>(src_tokens), N = static_cast<double>(tgt_tokens);
  double forward = 0;  // multiply-adds, doubled below
  if (m.type == "seq2seq" || m.type == "seq2seq_attention") {
    const double upper = (L - 1) * 3 * H * (2 * H);
    forward += S * (3 * H * (E + H) + upper);
    forward += B * Tt * (3 * H * (E + 2 * H) + upper);
    forward += N * H * V;
    if (m.type == "seq2seq_attention") forward += B * Ts * H * H + B * Tt * H * H + B * Tt * Ts * 2 * H;
  } else {
    const double Ld = static_cast<double>(m.num_decoder_layers > 0 ? m.num_decoder_layers : m.num_layers);
    forward += L * (B * Ts * (4 * H * H + 2 * H * F) + B * Ts * Ts * 2 * H);
    forward += Ld * (B * Tt * (6 * H * H + 2 * H * F) + B * Ts * 2 * H * H + B * Tt * Tt * 2 * H + B * Tt * Ts * 2 * H);
    forward += N * H * V;
  }
  return 3.0 * 2.0 * forward;
}

/// The GEMM ceiling: sgemm rates (GFLOP/s) of products of two `n`×`n` float matrices through torch::mm
/// (into a preallocated output, so no allocation is timed). The machine is shared and its speed moves within a
/// minute, so the ceiling is probed between the timed training steps (interleaved), not once: sample() is the
/// best of `reps` products, taken right before a step.
class GemmProbe {
 public:
  explicit GemmProbe(int64_t n) : n_(n), a_(torch::randn({n, n})), b_(torch::randn({n, n})), c_(torch::empty({n, n})) {
    torch::mm_out(c_, a_, b_);  // untimed: first-touch and OpenBLAS's buffers
  }
  /// Best rate of `reps` products, GFLOP/s.
  double sample(int reps) {
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
      const auto t0 = Clock::now();
      torch::mm_out(c_, a_, b_);
      best = std::min(best, seconds_between(t0, Clock::now()));
    }
    return 2.0 * static_cast<double>(n_) * static_cast<double>(n_) * static_cast<double>(n_) / best / 1e9;
  }

 private:
  int64_t n_;
  torch::Tensor a_, b_, c_;
};

/// Median of `v` (0 for an empty vector); `v` is taken by value and reordered.
double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

/// Running totals of one decoding mode (greedy or beam search, batched or one sentence at a time) over the
/// rounds of time_decoding_interleaved().
struct DecodeTotals {
  int64_t batch_size = 1;
  int64_t beam_size = 1;  // 1 = greedy search
  int64_t max_len = 10;   // maximum decoder steps (the model's num_steps, as the Python reference)
  int64_t sentences = 0;
  double seconds = 0, steps = 0, eos = 0;
  std::vector<double> round_rates;  // sentences/s of each round

  /// Decodes `sources[begin, end)` with batch_size sentences per search and adds them to the totals; returns
  /// the slice's sentences/s (0 for an empty slice).
  double run(const nmt::decoding::Translator& translator, const std::vector<std::vector<std::string>>& sources,
           std::size_t begin, std::size_t end) {
    if (begin >= end) return 0.0;
    nmt::decoding::TranslateOptions options;
    options.batch_size = batch_size;
    options.search.beam_size = beam_size;
    options.search.max_len = max_len;
    const std::vector<std::vector<std::string>> part(sources.begin() + static_cast<std::ptrdiff_t>(begin),
                                                     sources.begin() + static_cast<std::ptrdiff_t>(end));
    const auto t0 = Clock::now();
    const auto out = translator.translate_tokens(part, options);
    const double dt = seconds_between(t0, Clock::now());
    for (const auto& t : out) {
      const auto& best = t.hypotheses.front();
      steps += static_cast<double>(best.output_tokens.size()) + (best.emitted_eos ? 1 : 0);
      eos += best.emitted_eos ? 1 : 0;
    }
    sentences += static_cast<int64_t>(out.size());
    seconds += dt;
    round_rates.push_back(static_cast<double>(out.size()) / dt);
    return round_rates.back();
  }

  /// Sentences per second over all rounds.
  double rate() const { return static_cast<double>(sentences) / seconds; }

  /// {"sentences", "batch_size", "seconds", "sentences_per_second", "mean_output_tokens" (decoder steps incl.
  /// <eos>), "eos_fraction", "round_sentences_per_second"}.
  json to_json() const {
    const double n = static_cast<double>(std::max<int64_t>(1, sentences));
    return {{"sentences", sentences},
            {"batch_size", batch_size},
            {"seconds", seconds},
            {"sentences_per_second", rate()},
            {"mean_output_tokens", steps / n},
            {"eos_fraction", eos / n},
            {"round_sentences_per_second", round_rates}};
  }
};

/// Times batched greedy decoding of `batched` (`batch_size` sentences per search) against decoding `single` one
/// sentence at a time, interleaved: `rounds` rounds, each decoding the next slice of both sets (batched slices
/// end on whole batches where the set allows), so that a change in the machine's speed lands on both modes.
/// Both sets are in corpus (length) order, so slice r of each covers the same part of the corpus. With
/// beam_size > 1, each round then decodes the same two slices with beam search of that beam (BeamSearch, batched
/// and one sentence at a time), so greedy and beam meet the same machine speed too. `max_len` caps the output
/// tokens (`<eos>` not counted), so a search runs at most max_len decoder steps. Returns {"batched": ...,
/// "batch1": ..., "speedup" (total rates), "speedup_per_round", "rounds"} and, with beam_size > 1, "beam_size",
/// "beam_batched", "beam_batch1" (DecodeTotals::to_json, of the best hypothesis); a mode with an empty set is
/// left out.
json time_decoding_interleaved(const nmt::decoding::Translator& translator,
                               const std::vector<std::vector<std::string>>& batched,
                               const std::vector<std::vector<std::string>>& single, int64_t batch_size,
                               int64_t rounds, int64_t max_len, int64_t beam_size) {
  DecodeTotals many, one, beam_many, beam_one;
  many.batch_size = beam_many.batch_size = batch_size;
  beam_many.beam_size = beam_one.beam_size = beam_size;
  for (auto* d : {&many, &one, &beam_many, &beam_one}) d->max_len = max_len;
  const auto batches = static_cast<std::size_t>((static_cast<int64_t>(batched.size()) + batch_size - 1) / batch_size);
  const auto R = static_cast<std::size_t>(std::max<int64_t>(1, rounds));
  auto batched_end = [&](std::size_t r) {  // end of round r - 1's slice
    return r == R ? batched.size() : std::min(batched.size(), (r * batches / R) * static_cast<std::size_t>(batch_size));
  };
  std::vector<double> per_round;  // batched rate / one-at-a-time rate, rounds where both ran
  for (std::size_t r = 0; r < R; ++r) {
    const double a = many.run(translator, batched, batched_end(r), batched_end(r + 1));
    const double b = one.run(translator, single, r * single.size() / R, (r + 1) * single.size() / R);
    if (a > 0 && b > 0) per_round.push_back(a / b);
    if (beam_size > 1) {
      beam_many.run(translator, batched, batched_end(r), batched_end(r + 1));
      beam_one.run(translator, single, r * single.size() / R, (r + 1) * single.size() / R);
    }
  }
  json out{{"rounds", R}};
  if (many.sentences > 0) out["batched"] = many.to_json();
  if (one.sentences > 0) out["batch1"] = one.to_json();
  if (many.sentences > 0 && one.sentences > 0) {
    out["speedup"] = many.rate() / one.rate();
    out["speedup_per_round"] = per_round;
  }
  if (beam_size > 1) {
    out["beam_size"] = beam_size;
    if (beam_many.sentences > 0) out["beam_batched"] = beam_many.to_json();
    if (beam_one.sentences > 0) out["beam_batch1"] = beam_one.to_json();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  nmt::common::ensure_fast_blas(argc, argv);
  nmt::common::tune_malloc();  // keep freed tensor memory mapped (common/memory.h)
  CLI::App app{"nmt training/decoding throughput benchmark (d2l units: target tokens per second)"};
  std::string config_path, model_type, label = "custom";
  int64_t embed = 0, hiddens = 0, layers = 0, heads = 0, ffn = 0, batch = 0, threads = -1, num_examples = 0;
  int64_t warmup = 3, batches = 30, decode = 2000, decode_batch = 128, decode1 = 500, gemm_size = 1024;
  int64_t decode_rounds = 8, decode_beam = 4;
  double dropout = -1, lr = 0, decode_train_seconds = 0;
  std::string data_path;
  app.add_option("--config", config_path, "JSON run config (model/train/data sections) to start from");
  app.add_option("--model", model_type, "model type: seq2seq | seq2seq_attention | transformer");
  app.add_option("--label", label, "size label copied into the JSON (e.g. book, large)");
  app.add_option("--embed", embed, "embedding width (GRU models)");
  app.add_option("--hiddens", hiddens, "GRU state width / Transformer d_model");
  app.add_option("--layers", layers, "layers (Transformer: encoder and decoder blocks)");
  app.add_option("--heads", heads, "Transformer attention heads");
  app.add_option("--ffn", ffn, "Transformer FFN width");
  app.add_option("--dropout", dropout, "dropout probability");
  app.add_option("--lr", lr, "Adam learning rate, constant (default: the config's train.lr)")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "sentence pairs per training step");
  app.add_option("--threads", threads, "LibTorch intra-op threads (0 = LibTorch default)");
  app.add_option("--data", data_path, "corpus file (default: the config's data.path)");
  app.add_option("--num-examples", num_examples, "use only the first N pairs (0 = all; for smoke runs)");
  app.add_option("--warmup", warmup, "untimed warm-up batches")->check(CLI::NonNegativeNumber);
  app.add_option("--batches", batches, "timed training batches")->check(CLI::PositiveNumber);
  app.add_option("--decode", decode, "sentences for batched greedy decoding (0 = skip)")->check(CLI::NonNegativeNumber);
  app.add_option("--decode-batch", decode_batch, "batch size of batched decoding")->check(CLI::PositiveNumber);
  app.add_option("--decode-train-seconds", decode_train_seconds,
                 "untimed training (seconds) after the timed batches, before decoding")->check(CLI::NonNegativeNumber);
  app.add_option("--decode1", decode1, "sentences decoded one at a time (0 = skip)")->check(CLI::NonNegativeNumber);
  app.add_option("--decode-beam", decode_beam, "beam size of the beam-search decoding timed beside greedy; 1 = none")
      ->check(CLI::PositiveNumber);
  app.add_option("--decode-rounds", decode_rounds,
                 "rounds that interleave batched and one-at-a-time decoding")->check(CLI::PositiveNumber);
  app.add_option("--gemm-size", gemm_size, "n of the n x n sgemm ceiling (0 = skip)")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  try {
    nmt::common::Config config;
    if (!config_path.empty()) config = nmt::common::load_config(config_path);
    auto& mc = config.model;
    auto& tc = config.train;
    auto& dc = config.data;
    if (!model_type.empty()) mc.type = model_type;
    if (embed > 0) mc.embed_size = embed;
    if (hiddens > 0) mc.num_hiddens = hiddens;
    if (layers > 0) mc.num_layers = layers;
    if (heads > 0) mc.num_heads = heads;
    if (ffn > 0) mc.ffn_num_hiddens = ffn;
    if (dropout >= 0) mc.dropout = dropout;
    if (batch > 0) tc.batch_size = batch;
    if (lr > 0) tc.lr = lr;
    if (threads >= 0) tc.num_threads = threads;
    if (!data_path.empty()) dc.path = data_path;
    dc.num_examples = num_examples > 0 ? std::optional<int64_t>(num_examples) : std::nullopt;
    dc.valid_ratio = dc.test_ratio = 0.0;
    tc.bucket = false;
    tc.device = "cpu";
    config.validate();

    const int torch_threads = nmt::common::set_num_threads(tc.num_threads);
    const nmt::common::BlasInfo blas = nmt::common::blas_info();
    torch::manual_seed(static_cast<uint64_t>(tc.seed));

    // Data as d2l load_data_nmt: every pair, vocabularies on all of them.
    const auto load_start = Clock::now();
    const nmt::data::Corpus corpus = nmt::data::read_corpus(dc.path, dc.num_examples);
    nmt::data::Vocab src_vocab, tgt_vocab;
    nmt::data::Tokenizers tokenizers;
    {  // the token copies live only while the tokenizers and vocabularies are built, as in the trainer
      std::vector<std::vector<std::string>> src_sentences, tgt_sentences;
      for (const auto& p : corpus.pairs) src_sentences.push_back(p.source), tgt_sentences.push_back(p.target);
      tokenizers = nmt::data::make_tokenizers(dc, src_sentences, tgt_sentences, torch_threads);
      src_vocab = tokenizers.source.make_vocab(src_sentences, dc.min_freq);
      tgt_vocab = tokenizers.target.make_vocab(tgt_sentences, dc.min_freq);
    }
    std::vector<int64_t> all(corpus.pairs.size());
    std::iota(all.begin(), all.end(), 0);
    const auto tokenized = nmt::data::tokenize_pairs(corpus.pairs, all, tokenizers.source, tokenizers.target);
    const auto dataset = nmt::data::make_tensor_dataset(tokenized, all, src_vocab, tgt_vocab, dc.num_steps);
    const double load_seconds = seconds_between(load_start, Clock::now());

    auto model = nmt::models::make_model(mc, src_vocab.size(), tgt_vocab.size());
    // Training steps: the trainer's own (train::Trainer::train_step).
    nmt::train::Trainer trainer(config, model, tgt_vocab.bos());
    model->train();
    std::vector<torch::Tensor> order;
    int64_t epoch = 0;
    std::size_t next = 0;
    double timed_seconds = 0, timed_tokens = 0, timed_flops = 0, min_step = 1e30;
    auto loss_sum = torch::zeros({});
    // One training step on the next batch of the shuffled epoch; returns the batch it trained on and its loss.
    auto train_step = [&]() {
      if (next == order.size()) order = nmt::data::epoch_batches(dataset, tc.batch_size, tc.seed, ++epoch, false), next = 0;
      const auto& index = order[next++];
      nmt::data::Batch b = nmt::data::gather_batch(dataset, index, /*trim=*/true);
      nmt::train::StepResult l = trainer.train_step(b);
      return std::make_pair(std::move(b), std::move(l));
    };
    std::optional<GemmProbe> probe;
    if (gemm_size > 0) probe.emplace(gemm_size);
    std::vector<double> probe_rates, step_percents;  // per timed step: sgemm GFLOP/s right before, step rate in % of it
    for (int64_t i = 0; i < warmup + batches; ++i) {
      const double probe_rate = probe && i >= warmup ? probe->sample(2) : 0.0;
      const auto t0 = Clock::now();
      const auto [b, l] = train_step();
      const double dt = seconds_between(t0, Clock::now());
      if (i < warmup) continue;
      loss_sum += l.loss_sum;
      timed_seconds += dt;
      min_step = std::min(min_step, dt);
      const int64_t src_tokens = b.src_valid_len.clamp_max(b.src.size(1)).sum().item<int64_t>();
      const int64_t tgt_tokens = b.tgt_valid_len.clamp_max(b.tgt.size(1)).sum().item<int64_t>();
      timed_tokens += static_cast<double>(tgt_tokens);
      const double flops =
          step_flops(mc, tgt_vocab.size(), b.size(), b.src.size(1), b.tgt.size(1), src_tokens, tgt_tokens);
      timed_flops += flops;
      if (probe) probe_rates.push_back(probe_rate), step_percents.push_back(100.0 * flops / dt / 1e9 / probe_rate);
    }
    const int64_t rss_after_train = peak_rss_bytes();
    const double gemm = median(probe_rates);                      // interleaved ceiling, GFLOP/s
    const double gemm_after = probe ? probe->sample(10) : 0.0;   // one measurement after training (best of 10)
    const double gflops = timed_flops / timed_seconds / 1e9;
    const double percent = median(step_percents);

    json result{{"impl", "nmt"},
                {"model", mc.type},
                {"size", label},
                {"embed_size", mc.embed_size},
                {"num_hiddens", mc.num_hiddens},
                {"num_layers", mc.num_layers},
                {"num_heads", mc.num_heads},
                {"ffn_num_hiddens", mc.ffn_num_hiddens},
                {"dropout", mc.dropout},
                {"batch_size", tc.batch_size},
                {"lr", tc.lr},
                {"num_steps", dc.num_steps},
                {"min_freq", dc.min_freq},
                {"pairs", corpus.pairs.size()},
                {"src_vocab", src_vocab.size()},
                {"tgt_vocab", tgt_vocab.size()},
                {"parameters", nmt::models::count_parameters(*model)},
                {"load_seconds", load_seconds},
                {"warmup_batches", warmup},
                {"timed_batches", batches},
                {"timed_seconds", timed_seconds},
                {"timed_tokens", timed_tokens},
                {"tokens_per_second", timed_tokens / timed_seconds},
                {"ms_per_step", 1e3 * timed_seconds / static_cast<double>(batches)},
                {"ms_per_step_min", 1e3 * min_step},
                {"gflop_per_step", timed_flops / static_cast<double>(batches) / 1e9},
                {"gflops", gflops},
                {"flops_counted", "matmuls only: 3 x 2 x (weights x positions + attention scores/values); "
                                  "GRU encoder on valid source tokens (packed), output layer on valid target tokens, batches trimmed"},
                {"gemm_size", gemm_size},
                {"gemm_ceiling_gflops", gemm},
                {"gemm_probe_gflops", probe_rates},
                {"gemm_ceiling_after_gflops", gemm_after},
                {"percent_of_ceiling", percent},
                {"percent_of_ceiling_per_step", step_percents},
                {"percent_of_median_ceiling", gemm > 0 ? 100.0 * gflops / gemm : 0.0},
                {"percent_of_ceiling_after", gemm_after > 0 ? 100.0 * gflops / gemm_after : 0.0},
                {"ceiling_method", "sgemm of two gemm_size^2 matrices, best of 2, right before every timed step; "
                                   "percent_of_ceiling = median over timed steps of step GFLOP/s / that probe"},
                {"train_loss", (loss_sum / std::max(1.0, timed_tokens)).item<double>()},  // nats per target token, timed batches
                {"torch_threads", torch_threads},
                {"torch_version", TORCH_VERSION},
                {"blas", blas.to_json()},
                {"malloc", nmt::common::malloc_info()}};

    // Decoding: a stride sample over the whole corpus (fra.txt is ordered by length): pair k·P/n for k < n;
    // the one-at-a-time set is a stride sample of that sample, so both sets have the same length profile.
    // More (untimed) training before decoding, so that the model emits sentences of realistic length: the
    // decoding time follows the number of decoder steps, and a barely trained model stops at once.
    int64_t decode_train_batches = 0;
    if (decode > 0 || decode1 > 0) {
      const auto start = Clock::now();
      while (seconds_between(start, Clock::now()) < decode_train_seconds) train_step(), ++decode_train_batches;
    }
    json decoding{{"weights", "after the warm-up and timed batches and " + std::to_string(decode_train_batches) +
                                  " more batches (" + std::to_string(decode_train_seconds) + " s)"},
                  {"extra_training_batches", decode_train_batches}};
    auto stride_sample = [](const std::vector<std::vector<std::string>>& from, std::size_t n) {
      n = std::min(n, from.size());
      std::vector<std::vector<std::string>> out;
      for (std::size_t k = 0; k < n; ++k) out.push_back(from[k * from.size() / n]);
      return out;
    };
    if (decode > 0 || decode1 > 0) {
      std::vector<std::vector<std::string>> sources;
      const std::size_t want = std::min(corpus.pairs.size(), static_cast<std::size_t>(std::max(decode, decode1)));
      for (std::size_t k = 0; k < want; ++k) sources.push_back(corpus.pairs[k * corpus.pairs.size() / want].source);
      nmt::decoding::Translator translator(model, src_vocab, tgt_vocab, torch::Device(torch::kCPU), tokenizers.source,
                                           tokenizers.target);
      decoding.update(time_decoding_interleaved(translator, stride_sample(sources, static_cast<std::size_t>(decode)),
                                                stride_sample(sources, static_cast<std::size_t>(decode1)), decode_batch,
                                                decode_rounds, dc.num_steps, decode_beam));
    }
    result["decoding"] = decoding;
    result["peak_rss_after_train_bytes"] = rss_after_train;
    result["peak_rss_bytes"] = peak_rss_bytes();

    std::cout << result.dump() << std::endl;
    std::fprintf(stderr, "[bench] nmt %s %s: %.0f tok/s, %.2f ms/step, %.2f GFLOP/s (median step %.0f%% of the "
                 "interleaved sgemm, median %.1f; %.1f after training), peak RSS %.0f MiB; %s\n",
                 mc.type.c_str(), label.c_str(), timed_tokens / timed_seconds, 1e3 * timed_seconds / static_cast<double>(batches),
                 gflops, percent, gemm, gemm_after, static_cast<double>(peak_rss_bytes()) / 1048576.0,
                 blas.describe().c_str());
    if (decoding.contains("batched"))
      std::fprintf(stderr, "[bench] decoding: %.0f sentences/s batched (%lld)", decoding["batched"]["sentences_per_second"].get<double>(),
                   static_cast<long long>(decode_batch));
    if (decoding.contains("batch1"))
      std::fprintf(stderr, ", %.0f sentences/s one at a time", decoding["batch1"]["sentences_per_second"].get<double>());
    if (decoding.contains("beam_batched"))
      std::fprintf(stderr, "; beam %lld: %.0f sentences/s batched, %.0f one at a time",
                   static_cast<long long>(decode_beam), decoding["beam_batched"]["sentences_per_second"].get<double>(),
                   decoding.contains("beam_batch1") ? decoding["beam_batch1"]["sentences_per_second"].get<double>() : 0.0);
    if (decoding.contains("batched") || decoding.contains("batch1")) std::fprintf(stderr, "\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[bench] error: %s\n", e.what());
    return 1;
  }
}
