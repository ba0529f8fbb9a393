// `nmt translate` and `nmt eval` on a small trained run, through the real executable: odd input lines,
// attention JSON, heatmaps.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/config.h"
#include "common/io.h"
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
  const Result r = sh(std::string(NMT_BINARY) + " translate --checkpoint " + run.string() + " --input " +
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
  CHECK_THAT(log, Catch::Contains("line 4 has more than 7 tokens"));
  CHECK_THAT(log, Catch::Contains("line 7") && Catch::Contains("UTF-8"));

  SECTION("stdin gives the same translations as --input") {
    const Result s = sh("cat " + input.string() + " | " + NMT_BINARY + " translate --checkpoint " + run.string() +
                        " 2>/dev/null");
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
  const Result r = sh(std::string(NMT_BINARY) + " eval --bleu --json --checkpoint " + run.string() +
                      " --split test --plot " + plots.string() + " --plot-count 1 2>/dev/null");
  REQUIRE(r.code == 0);
  const auto report = nlohmann::json::parse(r.out);
  const auto refs = nmt::common::read_lines((run / "test.ref").string());
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
  CHECK(fs::exists(plots / "test_0001_encoder_decoder.png"));
  CHECK(sh(std::string(NMT_BINARY) + " eval --bleu --checkpoint " + run.string() + " --split train 2>/dev/null").code == 2);
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
