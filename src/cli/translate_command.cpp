#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/attention_plots.h"
#include "cli/commands.h"
#include "cli/line_stream.h"
#include "cli/search_flags.h"
#include "common/device.h"
#include "common/io.h"
#include "data/corpus.h"
#include "decoding/translator.h"
#include "models/checkpoint.h"

namespace nmt::cli {

void setup_translate(CLI::App& app, TranslateArgs& args) {
  app.add_option("-m,--checkpoint", args.checkpoint, "Run directory (uses best/) or checkpoint directory")->required();
  app.add_option("sentences", args.sentences, "Sentences to translate (default: one per line from --input or stdin)");
  app.add_option("-i,--input", args.input, "File with one sentence per line");
  add_search_flags(app, args.search);
  app.add_option("--n-best", args.n_best,
                 "Print N hypotheses per input as `i ||| hypothesis ||| score` lines (i from 0); N <= beam size")
      ->check(CLI::PositiveNumber);
  app.add_flag("--detokenize", args.detokenize,
               "Undo d2l's space before , . ! ? in the output (runs trained with data.d2l_punctuation)");
  app.add_flag("--scores", args.scores, "Text format: append TAB and the score (length-penalised log-probability)");
  app.add_option("--format", args.format, "text (one translation per line) or jsonl (one JSON object per input)")
      ->check(CLI::IsMember({"text", "jsonl"}));
  app.add_option("--flush-ms", args.flush_ms,
                 "Reading stdin or --input: translate the pending lines after this many ms without input")
      ->check(CLI::Range(0, 86400000));
  app.add_option("--attention", args.attention, "Write source/output tokens and attention weights as JSON here");
  app.add_option("--plot", args.plot, "Write one attention heatmap per sentence (and attention kind) into this directory");
  app.add_option("--plot-format", args.plot_format, "png, svg or pdf")->check(CLI::IsMember({"png", "svg", "pdf"}));
  app.add_option("--device", args.device, "auto, cpu, cuda or cuda:N");
  app.add_flag("--no-ema", args.no_ema, "Use the raw weights (model.pt) even when the checkpoint has EMA weights "
                                        "(ema.pt, train.ema_decay)");
  app.footer("Examples:\n"
             "  nmt translate --checkpoint runs/transformer --beam-size 5 --n-best 3 \"i'm home .\" \"go .\"\n"
             "  nmt translate --checkpoint runs/transformer --format jsonl < sentences.txt > translations.jsonl");
}

namespace {

/// Batches read at a time from a regular file (a bounded number of lines, sorted by length together).
constexpr std::size_t kMaxiBatch = 16;

/// How each translation is printed.
struct OutputStyle {
  bool jsonl = false;        ///< one JSON object per input
  bool n_best = false;       ///< `i ||| hypothesis ||| score` lines
  bool scores = false;       ///< text: TAB + score
  bool attention = false;    ///< jsonl: each hypothesis's attention
};

/// A score as printed in text and n-best lines: 4 decimals.
std::string score_text(double score) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.4f", score);
  return buffer;
}

/// Appends the output of translation `t` of input line `id` (0-based) to `out`:
/// - text: the best hypothesis (with --scores: TAB and its score; 0 for an empty input, which has none);
/// - n-best: one `id ||| text ||| score` line per hypothesis, best first; one `id |||  ||| 0.0000` line when there
///   is none (an empty or unreadable input);
/// - jsonl: `{"id", "source_tokens", "hypotheses": [{"text", "tokens", "score", "log_prob", "token_scores",
///   "finished"[, "attention"]}]}` (Translation::attention_json(k) as "attention").
void append_output(const decoding::Translation& t, std::size_t id, const OutputStyle& style, std::string& out) {
  if (style.jsonl) {
    // ordered_json: the members in the documented order (id first), not sorted by name.
    nlohmann::ordered_json hypotheses = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < t.hypotheses.size(); ++k) {
      const auto& h = t.hypotheses[k];
      nlohmann::ordered_json j = {{"text", h.text()},         {"tokens", h.output_tokens},
                                  {"score", h.score},         {"log_prob", h.log_prob},
                                  {"token_scores", h.token_scores}, {"finished", h.emitted_eos}};
      if (style.attention) j["attention"] = nlohmann::ordered_json(t.attention_json(k));
      hypotheses.push_back(std::move(j));
    }
    const nlohmann::ordered_json line = {
        {"id", id}, {"source_tokens", t.source_tokens}, {"hypotheses", std::move(hypotheses)}};
    // Tokens are valid UTF-8 (the translator rejects other input); `replace` keeps one bad byte from aborting a run.
    out += line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  } else if (style.n_best) {
    const std::string prefix = std::to_string(id) + " ||| ";
    if (t.hypotheses.empty()) out += prefix + " ||| " + score_text(0.0) + "\n";
    for (const auto& h : t.hypotheses) out += prefix + h.text() + " ||| " + score_text(h.score) + "\n";
  } else {
    out += t.text();
    if (style.scores) out += "\t" + score_text(t.hypotheses.empty() ? 0.0 : t.hypotheses.front().score);
    out += "\n";
  }
}

/// `--attention FILE`, written as translations come: a JSON array with one element per input line
/// (Translation::attention_json() of the best hypothesis) goes to FILE.tmp, which finish() fsyncs and renames to
/// FILE (as common::write_text_atomic does), so FILE is never seen half-written. Without finish() (an error
/// stopped the run) the destructor removes FILE.tmp and FILE is left as it was.
class AttentionFile {
 public:
  /// Throws std::runtime_error naming the file when FILE.tmp cannot be created.
  explicit AttentionFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (!file_) throw std::runtime_error("cannot write " + tmp_ + ": " + std::strerror(errno));
    write("[");
  }
  ~AttentionFile() {
    if (!file_) return;
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
  AttentionFile(const AttentionFile&) = delete;
  AttentionFile& operator=(const AttentionFile&) = delete;

  /// Appends one element. Throws std::runtime_error naming the file when writing fails.
  void add(const nlohmann::json& element) {
    write((first_ ? "\n" : ",\n") + element.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    first_ = false;
  }
  /// Closes the array, syncs FILE.tmp, renames it to FILE and syncs the directory. Throws std::runtime_error
  /// naming the file on failure.
  void finish() {
    write("\n]\n");
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) {
      std::remove(tmp_.c_str());
      throw std::runtime_error("cannot write " + tmp_ + ": " + std::strerror(errno));
    }
    common::sync_file(tmp_);
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
      std::remove(tmp_.c_str());
      throw std::runtime_error("cannot rename " + tmp_ + " to " + path_ + ": " + ec.message());
    }
    const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    common::sync_directory(parent.empty() ? "." : parent.string());
  }

 private:
  void write(const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size())
      throw std::runtime_error("cannot write " + tmp_ + ": " + std::strerror(errno));
  }

  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  bool first_ = true;
};

/// A file descriptor closed on destruction.
struct InputFd {
  int fd = -1;
  ~InputFd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

int run_translate(const TranslateArgs& args) {
  if (!args.sentences.empty() && !args.input.empty())
    throw std::invalid_argument("give sentences as arguments or --input FILE, not both");
  const c10::Device device = common::resolve_device(args.device);
  models::LoadedCheckpoint ckpt = models::load_checkpoint(args.checkpoint, device, !args.no_ema);
  common::set_num_threads(ckpt.config.train.num_threads);

  decoding::TranslateOptions options = translate_options(ckpt.config.decode, args.search);
  options.detokenize = args.detokenize;
  if (args.n_best) {
    if (*args.n_best > options.search.beam_size)
      throw std::invalid_argument("--n-best " + std::to_string(*args.n_best) + " is larger than the beam size " +
                                  std::to_string(options.search.beam_size) +
                                  (args.search.beam_size ? " (--beam-size)" : " (the checkpoint's decode.beam_size)") +
                                  ": a search returns at most beam-size hypotheses; raise --beam-size");
    options.search.n_best = *args.n_best;
  }
  OutputStyle style;
  style.jsonl = args.format == "jsonl";
  style.n_best = args.n_best.has_value() && !style.jsonl;
  style.scores = args.scores;
  style.attention = style.jsonl && !args.attention.empty();
  options.search.scores = args.scores || args.n_best.has_value() || style.jsonl;
  options.search.record_attention = !args.attention.empty() || !args.plot.empty();
  options.search.validate();
  spdlog::info("[translate] {} model from {}; beam size {}, length penalty {} (alpha {}), max output tokens "
               "{}·source + {}{}", ckpt.config.model.type, ckpt.dir, options.search.beam_size,
               length_penalty_name(options.search.length_penalty), options.search.alpha, options.search.max_len_a,
               options.search.max_len_b,
               options.search.max_len > 0 ? fmt::format(", at most {}", options.search.max_len) : std::string());

  decoding::Translator translator(ckpt.model, ckpt.src_vocab, ckpt.tgt_vocab, device, ckpt.src_tokenizer,
                                    ckpt.tgt_tokenizer, data::text_options(ckpt.config.data));
  std::optional<AttentionFile> attention_file;
  if (!args.attention.empty()) attention_file.emplace(args.attention);

  // Translates one batch whose first line is input line `first_line` (1-based), prints it and flushes stdout,
  // then adds its attention to --attention and --plot.
  std::size_t translated = 0;
  const auto translate_batch = [&](const std::vector<std::string>& batch, std::size_t first_line) {
    const auto translations = translator.translate(batch, options, first_line);
    std::string out;
    for (std::size_t i = 0; i < translations.size(); ++i) append_output(translations[i], first_line - 1 + i, style, out);
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
      throw std::runtime_error(std::string("cannot write the translations to stdout: ") + std::strerror(errno));
    for (std::size_t i = 0; i < translations.size(); ++i) {
      if (attention_file) attention_file->add(translations[i].attention_json());
      if (!args.plot.empty()) {
        char stem[32];
        std::snprintf(stem, sizeof stem, "%04zu", first_line + i);
        write_attention_plots(translations[i], args.plot, stem, args.plot_format);
      }
    }
    translated += translations.size();
  };

  if (!args.sentences.empty()) {
    translate_batch(args.sentences, 1);
  } else {
    InputFd input;
    std::string name = "stdin";
    if (!args.input.empty()) {
      input.fd = ::open(args.input.c_str(), O_RDONLY | O_CLOEXEC);
      if (input.fd < 0) throw std::runtime_error("cannot open input file " + args.input + ": " + std::strerror(errno));
      name = args.input;
    }
    const int fd = args.input.empty() ? STDIN_FILENO : input.fd;
    // A regular file never pauses: read kMaxiBatch batches at a time, which the translator sorts by length
    // before batching (Marian's maxi-batch), so batches hold similar lengths; pipes and terminals get each
    // batch as it arrives.
    struct stat info {};
    const bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
    const auto read_batch = static_cast<std::size_t>(options.batch_size) * (regular ? kMaxiBatch : 1);
    LineStream lines(fd, read_batch, static_cast<int>(args.flush_ms), name);
    for (;;) {
      const std::size_t first_line = lines.lines_returned() + 1;
      const std::vector<std::string> batch = lines.next_batch();
      if (batch.empty()) break;
      translate_batch(batch, first_line);
    }
  }
  spdlog::info("[translate] translated {} input lines", translated);
  if (attention_file) {
    attention_file->finish();
    spdlog::info("[translate] attention weights written to {}", args.attention);
  }
  if (!args.plot.empty()) spdlog::info("[translate] heatmaps written to {}", args.plot);
  return 0;
}

}  // namespace nmt::cli
