// `nmt translate` and `nmt eval` on a small trained run, through the real executable: odd input lines,
// attention JSON, heatmaps, beam search output formats (n-best, scores, jsonl), streaming, bad flags.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/config.h"
#include "common/io.h"
#include "data/preprocess.h"
#include "data/vocab.h"
#include "models/model_factory.h"
#include "support/shell.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

using Result = nmt::test::ShellResult;

/// Runs a shell command line; returns its stdout.
Result sh(const std::string& cmd) { return nmt::test::run_shell(cmd); }

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

/// A run directory with a briefly trained model of `type`, trained once per test process into a directory of
/// its own (removed when the process exits), so that test processes running in parallel never share it.
fs::path trained_run(const std::string& type) {
  static std::map<std::string, std::unique_ptr<nmt::test::TempDir>> runs;
  auto& slot = runs[type];
  if (slot) return slot->path() / "run";
  auto dir = std::make_unique<nmt::test::TempDir>("cli_run_" + type);
  const fs::path config = *dir / "config.json";
  std::ofstream(config) << R"({"data": {"path": ")" NMT_SOURCE_DIR R"(/tests/fixtures/overfit_fra.txt", "num_examples": null,
      "num_steps": 8, "min_freq": 1, "test_ratio": 0.25},
    "model": {"type": ")" << type << R"(", "embed_size": 16, "num_hiddens": 16, "num_layers": 2, "ffn_num_hiddens": 32},
    "train": {"batch_size": 4, "num_epochs": 3, "device": "cpu"}})";
  const fs::path run = *dir / "run";
  const Result r = sh(std::string(NMT_BINARY) + " train --config " + config.string() + " --output " + run.string() +
                      " 2>/dev/null");
  REQUIRE(r.code == 0);
  slot = std::move(dir);
  return run;
}

/// Tokens of a preprocessed line (split on spaces; for the fixture's sentences this is what sacreBLEU's 13a
/// tokenizer gives, since preprocessing already spaced the punctuation).
std::vector<std::string> tokens(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

/// Corpus BLEU-4 written here from sacreBLEU's definition (clipped n-gram precisions, "exp" smoothing of zero
/// counts, brevity penalty), independently of nmt::metrics, to check the number `nmt eval` reports.
double reference_corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  double correct[4] = {0, 0, 0, 0}, total[4] = {0, 0, 0, 0}, sys_len = 0, ref_len = 0;
  for (std::size_t i = 0; i < hyps.size(); ++i) {
    const auto h = tokens(hyps[i]), r = tokens(refs[i]);
    sys_len += static_cast<double>(h.size());
    ref_len += static_cast<double>(r.size());
    for (std::size_t n = 1; n <= 4; ++n) {
      std::map<std::vector<std::string>, int> ref_counts;
      for (std::size_t j = 0; j + n <= r.size(); ++j) ++ref_counts[{r.begin() + j, r.begin() + j + n}];
      for (std::size_t j = 0; j + n <= h.size(); ++j) {
        total[n - 1] += 1;
        auto it = ref_counts.find({h.begin() + j, h.begin() + j + n});
        if (it != ref_counts.end() && it->second > 0) --it->second, correct[n - 1] += 1;
      }
    }
  }
  if (correct[0] + correct[1] + correct[2] + correct[3] == 0) return 0.0;
  double log_sum = 0, smooth = 1;
  for (int n = 0; n < 4; ++n) {
    if (total[n] == 0) {
      log_sum += -9999999999.0 * (4 - n);
      break;
    }
    double p = 100.0 * correct[n] / total[n];
    if (correct[n] == 0) smooth *= 2, p = 100.0 / (smooth * total[n]);
    log_sum += std::log(p);
  }
  const double bp = sys_len >= ref_len ? 1.0 : sys_len == 0 ? 0.0 : std::exp(1.0 - ref_len / sys_len);
  return bp * std::exp(log_sum / 4.0);
}

/// A copy of the trained run of `type` in `dir`, whose best/model.pt is replaced by the weights of a model
/// with other sizes (num_hiddens 24 instead of 16).
fs::path run_with_other_shapes(const std::string& type, const nmt::test::TempDir& dir) {
  const fs::path run = dir / "run";
  fs::copy(trained_run(type), run, fs::copy_options::recursive);
  nmt::common::Config config = nmt::common::load_config((run / "best" / "config.json").string());
  config.model.num_hiddens = 24;
  const auto src = nmt::data::Vocab::load((run / "best" / "src_vocab.txt").string()).size();
  const auto tgt = nmt::data::Vocab::load((run / "best" / "tgt_vocab.txt").string()).size();
  auto model = nmt::models::make_model(config.model, static_cast<int64_t>(src), static_cast<int64_t>(tgt));
  torch::serialize::OutputArchive archive;
  model->save(archive);
  archive.save_to((run / "best" / "model.pt").string());
  return run;
}

}  // namespace

TEST_CASE("translate keeps one output line per input line, whatever the input", "[cli]") {
  const fs::path run = trained_run("seq2seq_attention");
  const nmt::test::TempDir tmp("cli_odd");
  const fs::path input = tmp / "input.txt";
  std::string long_line;
  for (int i = 0; i < 10000; ++i) long_line += "go ";
  {
    std::ofstream in(input, std::ios::binary);
    in << "go .\n"                  // normal
       << "\n"                      // empty
       << "   \t \n"                // whitespace only
       << long_line << "\n"         // 10,000 words
       << "Привет, мир! 你好\n"     // other scripts
       << "a\x01" "b\x7f .\n"       // control characters
       << "bad \xff\xfe utf8\n"     // invalid UTF-8
       << "i lost .";               // no final newline
  }
  const fs::path err = tmp / "err.txt";
  // --max-len bounds the work on the 10,000-word line, which is translated whole (no longer cut at num_steps).
  const Result r = sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " --max-len 30 --input " +
                      input.string() + " 2>" + err.string());
  CHECK(r.code == 0);
  REQUIRE(count_lines(r.out) == 8);
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::size_t end = r.out.find('\n', start);
    lines.push_back(r.out.substr(start, end - start));
    start = end + 1;
  }
  CHECK(lines[1].empty());
  CHECK(lines[2].empty());
  CHECK(lines[6].empty());
  const std::string log = nmt::common::read_text(err.string());
  CHECK_THAT(log, !Catch::Contains("line 4"));  // a long source is translated whole, without a warning
  CHECK_THAT(log, Catch::Contains("line 7") && Catch::Contains("UTF-8"));

  SECTION("stdin gives the same translations as --input") {
    const Result s = sh("cat " + input.string() + " | " + NMT_BINARY + " translate --checkpoint " + run.string() +
                        " --max-len 30 2>/dev/null");
    CHECK(s.out == r.out);
  }
}

TEST_CASE("translate --attention and --plot write real outputs", "[cli][plot]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq_attention", "transformer");
  const fs::path run = trained_run(type);
  const nmt::test::TempDir tmp("cli_att_" + type);
  const fs::path json_file = tmp / "attention.json";
  const fs::path plots = tmp / "plots";
  const Result r = sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " --attention " +
                      json_file.string() + " --plot " + plots.string() + " --plot-format svg \"i'm home .\" \"été\" 2>/dev/null");
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(nmt::common::read_text(json_file.string()));
  REQUIRE(j.size() == 2);
  CHECK(j[0]["source_tokens"] == nlohmann::json({"i'm", "home", ".", "<eos>"}));
  const auto& matrix = j[0]["attention"];
  const std::size_t rows = j[0]["output_tokens"].size();
  CHECK((matrix.size() == rows || matrix.size() == rows + 1));  // + the <eos> step when emitted
  for (const auto& row : matrix) {
    REQUIRE(row.size() == 4);
    double sum = 0;
    for (double w : row) sum += w;
    CHECK_THAT(sum, Catch::Matchers::WithinAbs(1.0, 1e-4));
  }
  const std::size_t layers = type == "transformer" ? 2 : 1;
  CHECK(j[0]["layers"]["encoder_decoder"].size() == layers);
  if (type == "transformer") {
    CHECK(j[0]["layers"]["encoder_self"][0].size() == 4);  // heads (config default 4)
    CHECK(j[0]["layers"]["encoder_self"][0][0].size() == 4);  // queries = source tokens
  }
  const fs::path svg = plots / "0001_encoder_decoder.svg";
  REQUIRE(fs::exists(svg));
  const std::string text = nmt::common::read_text(svg.string());
  CHECK(text.rfind("<?xml", 0) == 0);
  CHECK_THAT(text, Catch::Contains(">home</text>") && Catch::Contains("&lt;eos&gt;"));
  CHECK_THAT(nmt::common::read_text((plots / "0002_encoder_decoder.svg").string()), Catch::Contains("été"));
  if (type == "transformer") {
    CHECK(fs::exists(plots / "0001_encoder_self.svg"));
    CHECK(fs::exists(plots / "0001_decoder_self.svg"));
  }
  CHECK(fs::exists(run / "curves.png"));
  CHECK(fs::exists(run / "curves.svg"));
}

TEST_CASE("eval scores the run's test split and writes a report", "[cli]") {
  const fs::path run = trained_run("seq2seq_attention");
  const nmt::test::TempDir tmp("cli_eval");
  const fs::path plots = tmp / "plots";
  // --tokenized: the model's output as it is, against references preprocessed as the training data.
  const Result r = sh(std::string(NMT_BINARY) + " eval --bleu --json --tokenized --checkpoint " + run.string() +
                      " --split test --plot " + plots.string() + " --plot-count 1 2>/dev/null");
  REQUIRE(r.code == 0);
  const auto report = nlohmann::json::parse(r.out);
  std::vector<std::string> refs;
  for (const auto& line : nmt::common::read_lines((run / "test.ref").string()))
    refs.push_back(nmt::data::preprocess_nmt(line));
  const auto hyps = nmt::common::read_lines((run / "test.hyp").string());
  const std::size_t n = refs.size();
  CHECK(n == 2);  // test_ratio 0.25 of the fixture's 8 pairs
  CHECK(report["sentences"] == n);
  CHECK(report["split"] == "test");
  CHECK(report["epoch"] == 3);
  REQUIRE(hyps.size() == n);
  // The reported score is the BLEU of the hypotheses it wrote against the references, computed independently.
  CHECK_THAT(report["bleu"].get<double>(), Catch::Matchers::WithinAbs(reference_corpus_bleu(hyps, refs), 1e-9));
  double sys_len = 0, ref_len = 0;
  for (std::size_t i = 0; i < n; ++i) sys_len += tokens(hyps[i]).size(), ref_len += tokens(refs[i]).size();
  CHECK(report["corpus_bleu"]["sys_len"].get<double>() == sys_len);
  CHECK(report["corpus_bleu"]["ref_len"].get<double>() == ref_len);
  CHECK(report["corpus_bleu"]["precisions"].size() == 4);
  CHECK(nlohmann::json::parse(nmt::common::read_text((run / "eval_test.json").string())) == report);
  // The search options used: the checkpoint config's decode section (the defaults; the run's config has none).
  const nmt::common::DecodeConfig d;
  CHECK(report["decode"] == nlohmann::json({{"beam_size", d.beam_size}, {"length_penalty", d.length_penalty},
                                            {"alpha", d.alpha}, {"min_len", d.min_len}, {"max_len_a", d.max_len_a},
                                            {"max_len_b", d.max_len_b}, {"max_len", d.max_len},
                                            {"batch_size", d.batch_size}}));
  CHECK(fs::exists(plots / "test_0001_encoder_decoder.png"));
  CHECK(sh(std::string(NMT_BINARY) + " eval --bleu --checkpoint " + run.string() + " --split train 2>/dev/null").code == 2);

  SECTION("by default, detokenised output against the references as written, case-insensitive for this run") {
    const Result d = sh(std::string(NMT_BINARY) + " eval --bleu --json --checkpoint " + run.string() +
                        " --split test 2>/dev/null");
    REQUIRE(d.code == 0);
    const auto detok = nlohmann::json::parse(d.out);
    CHECK(detok["scoring"] == "detokenized");
    CHECK(detok["lowercase"] == true);  // the run lowercases its data
    CHECK_THAT(detok["bleu_signature"].get<std::string>(), Catch::StartsWith("nrefs:1|case:lc|"));
    // The run's test.ref is the corpus text ("Je suis chez moi."); the hypotheses lose d2l's spaces.
    for (const auto& h : nmt::common::read_lines((run / "test.hyp").string())) {
      INFO(h);
      CHECK(h.find(" .") == std::string::npos);
    }
    // 13a splits the marks off again: on these sentences the score is the tokenized one.
    CHECK_THAT(detok["bleu"].get<double>(), Catch::Matchers::WithinAbs(report["bleu"].get<double>(), 1e-9));
  }

  SECTION("the search flags override the config and are recorded") {
    const Result g = sh(std::string(NMT_BINARY) + " eval --bleu --json --checkpoint " + run.string() +
                        " --split test --beam-size 1 --length-penalty none --alpha 0 --max-len-a 0 --max-len-b 7"
                        " --max-len 5 --min-len 1 --batch-size 3 2>/dev/null");
    REQUIRE(g.code == 0);
    const auto greedy = nlohmann::json::parse(g.out);
    CHECK(greedy["decode"] == nlohmann::json({{"beam_size", 1}, {"length_penalty", "none"}, {"alpha", 0.0},
                                              {"min_len", 1}, {"max_len_a", 0.0}, {"max_len_b", 7}, {"max_len", 5},
                                              {"batch_size", 3}}));
    for (const auto& h : nmt::common::read_lines((run / "test.hyp").string())) {
      INFO(h);
      CHECK(tokens(h).size() <= 5);  // --max-len
    }
  }
  SECTION("search flags without a checkpoint are an error") {
    const Result e = sh(std::string(NMT_BINARY) + " eval --bleu --hypotheses " + (run / "test.ref").string() +
                        " --references " + (run / "test.ref").string() + " --beam-size 3 2>&1");
    CHECK(e.code == 2);
    CHECK_THAT(e.out, Catch::Contains("need --checkpoint"));
  }
}

TEST_CASE("eval --multi-ref scores each distinct source once against all its references", "[cli]") {
  const nmt::test::TempDir tmp("cli_multiref");
  const fs::path run = tmp / "run";
  fs::copy(trained_run("seq2seq_attention"), run, fs::copy_options::recursive);
  // A test split where "Go." has two translations and "I'm home." one (as the grouped split keeps them).
  std::ofstream(run / "test.src") << "Go.\nI'm home.\nGo.\n";
  std::ofstream(run / "test.ref") << "Va !\nJe suis chez moi.\nMarche.\n";
  const Result r = sh(std::string(NMT_BINARY) + " eval --bleu --json --multi-ref --checkpoint " + run.string() +
                      " --split test 2>/dev/null");
  REQUIRE(r.code == 0);
  const auto report = nlohmann::json::parse(r.out);
  CHECK(report["sentences"] == 2);
  CHECK(report["multi_ref"] == true);
  CHECK(report["references_per_segment"] == nlohmann::json({{"min", 1}, {"max", 2}}));
  CHECK_THAT(report["bleu_signature"].get<std::string>(), Catch::StartsWith("nrefs:var|case:lc|"));
  CHECK_FALSE(report.contains("d2l_bleu"));
  CHECK(nmt::common::read_lines((run / "test.multiref.tsv").string()) ==
        std::vector<std::string>{"Go.\tVa !\tMarche.", "I'm home.\tJe suis chez moi."});
  const auto hyps = nmt::common::read_lines((run / "test.multiref.hyp").string());
  REQUIRE(hyps.size() == 2);
  CHECK(fs::exists(run / "eval_test.multiref.json"));
  // The same scores as the two reference files a user would pass to --references (the second line's second
  // reference is given again, as one file per reference set needs a line for every hypothesis).
  std::ofstream(tmp / "h.txt") << hyps[0] << "\n" << hyps[1] << "\n";
  std::ofstream(tmp / "r1.txt") << "va !\nje suis chez moi.\n";
  std::ofstream(tmp / "r2.txt") << "marche.\nje suis chez moi.\n";
  const Result f = sh(std::string(NMT_BINARY) + " eval --bleu --json --lowercase --hypotheses " + (tmp / "h.txt").string() +
                      " --references " + (tmp / "r1.txt").string() + " " + (tmp / "r2.txt").string() + " 2>/dev/null");
  REQUIRE(f.code == 0);
  const auto files = nlohmann::json::parse(f.out);
  CHECK_THAT(files["bleu"].get<double>(), Catch::Matchers::WithinAbs(report["bleu"].get<double>(), 1e-9));
  CHECK_THAT(files["chrf2"].get<double>(), Catch::Matchers::WithinAbs(report["chrf2"].get<double>(), 1e-9));
}

TEST_CASE("a run directory without best/ (stopped before its first validation) translates with latest/", "[cli]") {
  const nmt::test::TempDir tmp("cli_no_best");
  const fs::path run = tmp / "run";
  fs::copy(trained_run("seq2seq_attention"), run, fs::copy_options::recursive);
  const Result with_best = sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " \"go .\" 2>&1");
  REQUIRE(with_best.code == 0);
  CHECK_THAT(with_best.out, !Catch::Contains("no best/"));
  fs::remove_all(run / "best");
  const Result r = sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " \"go .\" 2>&1");
  INFO(r.out);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("has no best/ yet") && Catch::Contains((run / "latest").string()));
  // latest/ named directly is a checkpoint like any other: no warning.
  const Result direct =
      sh(std::string(NMT_BINARY) + " translate --checkpoint " + (run / "latest").string() + " \"go .\" 2>&1");
  CHECK(direct.code == 0);
  CHECK_THAT(direct.out, !Catch::Contains("no best/"));
  fs::remove_all(run / "latest");
  const Result none = sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " \"go .\" 2>&1");
  CHECK(none.code == 1);
  CHECK_THAT(none.out, Catch::Contains("best/model.pt or latest/model.pt"));
}

TEST_CASE("the reference BLEU of the eval test agrees with known values", "[cli]") {
  // sacreBLEU: corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]).score == 100.
  CHECK_THAT(reference_corpus_bleu({"the cat sat on the mat"}, {"the cat sat on the mat"}),
             Catch::Matchers::WithinAbs(100.0, 1e-9));
  // One hypothesis of 4 tokens, 3/4 unigrams, 1/3 bigrams, no 3- or 4-gram matches (exp smoothing: 100/(2*2),
  // 100/(4*1)), same length as the reference: exp((log 75 + log 33.33 + log 25 + log 25) / 4).
  CHECK_THAT(reference_corpus_bleu({"a b c d"}, {"a b x c"}),
             Catch::Matchers::WithinAbs(std::exp((std::log(75.0) + std::log(100.0 / 3) + 2 * std::log(25.0)) / 4), 1e-9));
  CHECK(reference_corpus_bleu({"x y"}, {"a b"}) == 0.0);
}

TEST_CASE("translate and eval exit 1 naming the file for a corrupted checkpoint", "[cli]") {
  const std::string cmd = GENERATE(as<std::string>{}, "translate --checkpoint RUN \"go .\"",
                                   "eval --bleu --checkpoint RUN --split test");
  const auto with_run = [&](const fs::path& run) {
    std::string c = cmd;
    c.replace(c.find("RUN"), 3, run.string());
    return sh(std::string(NMT_BINARY) + " " + c + " 2>&1");
  };
  const nmt::test::TempDir tmp("cli_corrupt");
  SECTION("weights of other shapes than config.json and the vocabularies") {
    const fs::path run = run_with_other_shapes("seq2seq_attention", tmp);
    const Result r = with_run(run);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Catch::Contains((run / "best" / "model.pt").string()) && Catch::Contains("tensor") &&
                          Catch::Contains("has shape"));
  }
  SECTION("a state.json that is not JSON") {
    const fs::path run = tmp / "run";
    fs::copy(trained_run("seq2seq_attention"), run, fs::copy_options::recursive);
    std::ofstream(run / "best" / "state.json", std::ios::trunc) << "{\"epoch\": 3, garbage";
    const Result r = with_run(run);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Catch::Contains((run / "best" / "state.json").string()) && Catch::Contains("malformed JSON"));
  }
  SECTION("a state.json whose epoch is not an integer") {
    const fs::path run = tmp / "run";
    fs::copy(trained_run("seq2seq_attention"), run, fs::copy_options::recursive);
    std::ofstream(run / "best" / "state.json", std::ios::trunc) << R"({"epoch": "three", "step": 6})";
    const Result r = with_run(run);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Catch::Contains((run / "best" / "state.json").string()) && Catch::Contains("\"epoch\""));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Beam search output formats and streaming, through the executable.
// ---------------------------------------------------------------------------------------------------------

namespace {

/// Lines of `text` (each ended by '\n'; a last piece without one is dropped).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(text.substr(start, end - start));
  return lines;
}

/// `nmt translate --checkpoint RUN ARGS` (stderr dropped).
Result translate(const fs::path& run, const std::string& args) {
  return sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " " + args + " 2>/dev/null");
}

/// A running `nmt` process with a pipe to its stdin and one from its stdout (stderr goes to /dev/null), started
/// with posix_spawn. The destructor kills it if it still runs.
class NmtProcess {
 public:
  explicit NmtProcess(const std::vector<std::string>& args) {
    int in[2], out[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> argv_strings{NMT_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, NMT_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    REQUIRE(rc == 0);
  }
  ~NmtProcess() {
    close_stdin();
    if (stdout_ >= 0) ::close(stdout_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  NmtProcess(const NmtProcess&) = delete;
  NmtProcess& operator=(const NmtProcess&) = delete;

  /// Writes `line` and '\n' to the process's stdin; false when that fails.
  bool write_line(const std::string& line) {
    const std::string text = line + "\n";
    return stdin_ >= 0 && ::write(stdin_, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  /// The next line of the process's stdout, without '\n'; std::nullopt when none is complete within `timeout`
  /// or stdout ended first.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto end = buffer_.find('\n');
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{stdout_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;  // end of output (or an error)
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// Waits up to `timeout` for the process to exit; its exit code, or -1 (killed by a signal, or still running).
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1;
  std::string buffer_;
};

/// The score at the end of an n-best line `i ||| hypothesis ||| score`.
double nbest_score(const std::string& line) { return std::stod(line.substr(line.rfind(" ||| ") + 5)); }

}  // namespace

TEST_CASE("translate reading a pipe answers each line before its stdin is closed", "[cli][stream]") {
  const fs::path run = trained_run("seq2seq_attention");
  // The translations of the same sentences given as arguments, for comparison.
  const Result reference = translate(run, "\"go .\" \"i lost .\"");
  REQUIRE(reference.code == 0);
  const auto expected = split_lines(reference.out);
  REQUIRE(expected.size() == 2);

  std::signal(SIGPIPE, SIG_IGN);  // a dead child makes write_line fail instead of killing the test
  NmtProcess nmt({"translate", "--checkpoint", run.string()});
  constexpr std::chrono::seconds kTimeout(60);  // a hang fails the test rather than blocking it
  REQUIRE(nmt.write_line("go ."));
  const auto first = nmt.read_line(kTimeout);
  REQUIRE(first.has_value());  // answered while stdin is still open
  CHECK(*first == expected[0]);
  REQUIRE(nmt.write_line("i lost ."));
  const auto second = nmt.read_line(kTimeout);
  REQUIRE(second.has_value());
  CHECK(*second == expected[1]);
  nmt.close_stdin();
  CHECK_FALSE(nmt.read_line(kTimeout).has_value());  // nothing more: stdout ends
  CHECK(nmt.wait(kTimeout) == 0);
  std::signal(SIGPIPE, SIG_DFL);
}

TEST_CASE("translate --n-best prints N scored hypotheses per input, best first", "[cli][beam]") {
  const fs::path run = trained_run("seq2seq_attention");
  const Result r = translate(run, "--n-best 3 --beam-size 5 \"go .\" \"\" \"i lost .\"");
  REQUIRE(r.code == 0);
  const auto lines = split_lines(r.out);
  // 3 lines for each sentence, one `1 |||  ||| 0.0000` line for the empty input.
  REQUIRE(lines.size() == 7);
  const std::vector<std::string> prefixes{"0 ||| ", "0 ||| ", "0 ||| ", "1 ||| ", "2 ||| ", "2 ||| ", "2 ||| "};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO(lines[i]);
    CHECK(lines[i].rfind(prefixes[i], 0) == 0);
    CHECK(std::count(lines[i].begin(), lines[i].end(), '|') == 6);
  }
  CHECK(lines[3] == "1 |||  ||| 0.0000");
  for (const std::size_t first : {0, 4}) {
    std::set<std::string> texts;
    for (std::size_t k = 0; k < 3; ++k) {
      const std::string& line = lines[first + k];
      texts.insert(line.substr(0, line.rfind(" ||| ")));
      CHECK(nbest_score(line) <= 0.0);  // log-probabilities
      if (k > 0) CHECK(nbest_score(line) <= nbest_score(lines[first + k - 1]));
    }
    CHECK(texts.size() == 3);  // three different hypotheses
  }

  SECTION("the first hypothesis is the translation, and --scores prints its score after a TAB") {
    const Result best = translate(run, "--beam-size 5 --scores \"go .\" \"\" \"i lost .\"");
    REQUIRE(best.code == 0);
    const auto rows = split_lines(best.out);
    REQUIRE(rows.size() == 3);
    for (const auto& [row, nbest_line] : {std::pair{rows[0], lines[0]}, std::pair{rows[2], lines[4]}}) {
      INFO(row);
      const auto tab = row.find('\t');
      REQUIRE(tab != std::string::npos);
      const std::string text = row.substr(0, tab), score = row.substr(tab + 1);
      CHECK(nbest_line == nbest_line.substr(0, 6) + text + " ||| " + score);
      std::size_t parsed = 0;
      CHECK(std::stod(score, &parsed) <= 0.0);
      CHECK(parsed == score.size());  // the whole field is the number
    }
    CHECK(rows[1] == "\t0.0000");  // an empty input: empty translation, score 0
    // Without --scores the same translations, without the TAB.
    const Result plain = translate(run, "--beam-size 5 \"go .\" \"\" \"i lost .\"");
    CHECK(plain.out == rows[0].substr(0, rows[0].find('\t')) + "\n\n" + rows[2].substr(0, rows[2].find('\t')) + "\n");
  }
}

TEST_CASE("translate --format jsonl writes one object per input with scored hypotheses", "[cli][beam]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq_attention", "transformer");
  const fs::path run = trained_run(type);
  const nmt::test::TempDir tmp("cli_jsonl_" + type);
  const fs::path attention = tmp / "attention.json";
  const Result r = translate(run, "--format jsonl --n-best 2 --beam-size 4 --length-penalty gnmt --alpha 0.6 "
                                  "--attention " + attention.string() + " \"go .\" \"i lost .\"");
  REQUIRE(r.code == 0);
  const auto lines = split_lines(r.out);
  REQUIRE(lines.size() == 2);
  for (std::size_t id = 0; id < 2; ++id) {
    const auto j = nlohmann::json::parse(lines[id]);
    INFO(j.dump());
    CHECK(j["id"] == id);
    CHECK(j["source_tokens"] == (id == 0 ? nlohmann::json({"go", ".", "<eos>"})
                                         : nlohmann::json({"i", "lost", ".", "<eos>"})));
    REQUIRE(j["hypotheses"].size() == 2);
    double previous = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const auto& h = j["hypotheses"][k];
      const auto tokens_k = h["tokens"].get<std::vector<std::string>>();
      std::string joined;
      for (const auto& t : tokens_k) joined += (joined.empty() ? "" : " ") + t;
      CHECK(h["text"] == joined);
      const auto scores = h["token_scores"].get<std::vector<double>>();
      // One log-probability per output token, then <eos>'s when it was emitted.
      CHECK(scores.size() == tokens_k.size() + (h["finished"].get<bool>() ? 1 : 0));
      double sum = 0;
      for (double s : scores) {
        CHECK(s <= 0.0);
        sum += s;
      }
      CHECK_THAT(h["log_prob"].get<double>(), Catch::Matchers::WithinAbs(sum, 1e-4));
      // gnmt: log_prob / ((5 + |y|) / 6)^alpha, |y| the scored tokens (Wu et al. 2016).
      const double expected = sum / std::pow((5.0 + static_cast<double>(scores.size())) / 6.0, 0.6);
      if (h["finished"].get<bool>()) CHECK_THAT(h["score"].get<double>(), Catch::Matchers::WithinAbs(expected, 1e-4));
      if (k > 0) CHECK(h["score"].get<double>() <= previous);
      previous = h["score"].get<double>();
      // With --attention, each hypothesis's attention: one row per scored token over the source tokens.
      const auto& matrix = h["attention"]["attention"];
      CHECK(h["attention"]["output_tokens"] == h["tokens"]);
      CHECK(matrix.size() == scores.size());
      for (const auto& row : matrix) {
        REQUIRE(row.size() == j["source_tokens"].size());
        double total = 0;
        for (double w : row) total += w;
        CHECK_THAT(total, Catch::Matchers::WithinAbs(1.0, 1e-4));
      }
    }
  }
  // The --attention file holds each line's best hypothesis, as the jsonl's first one.
  const auto file = nlohmann::json::parse(nmt::common::read_text(attention.string()));
  REQUIRE(file.size() == 2);
  CHECK(file[1] == nlohmann::json::parse(lines[1])["hypotheses"][0]["attention"]);
  CHECK_FALSE(fs::exists(attention.string() + ".tmp"));
}

TEST_CASE("translate rejects bad search flags with exit 2, naming the flag and the value", "[cli][beam]") {
  const fs::path run = trained_run("seq2seq_attention");
  struct Bad {
    std::string flags;
    std::vector<std::string> says;
  };
  const std::vector<Bad> cases{
      {"--n-best 5 --beam-size 2", {"--n-best 5", "beam size 2"}},
      {"--n-best 9", {"--n-best 9", "decode.beam_size"}},  // larger than the checkpoint's default beam (4)
      {"--length-penalty wu", {"--length-penalty", "wu"}},
      {"--beam-size 0", {"--beam-size", "0"}},
      {"--alpha -1", {"--alpha", "-1"}},
      {"--max-len-a 0 --max-len-b 0", {"--max-len-a 0", "--max-len-b 0"}},
      {"--format xml", {"--format", "xml"}},
      {"--flush-ms -5", {"--flush-ms", "-5"}},
  };
  for (const auto& bad : cases) {
    INFO(bad.flags);
    const Result r = sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " " + bad.flags +
                        " \"go .\" 2>&1");
    CHECK(r.code == 2);
    for (const auto& s : bad.says) CHECK_THAT(r.out, Catch::Contains(s));
  }
}
