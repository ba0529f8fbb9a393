// `nmt translate` and `nmt eval` on a small trained run, through the real executable: odd input lines,
// attention JSON, heatmaps.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/io.h"
#include "support/shell.h"

namespace fs = std::filesystem;

namespace {

using Result = nmt::test::ShellResult;

/// Runs a shell command line; returns its stdout.
Result sh(const std::string& cmd) { return nmt::test::run_shell(cmd); }

std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

/// A run directory with a briefly trained model of `type`, trained once per test binary run.
fs::path trained_run(const std::string& type) {
  const fs::path dir = fs::temp_directory_path() / ("nmt_cli_run_" + type);
  static std::map<std::string, bool> done;
  if (done[type]) return dir;
  const fs::path config = fs::temp_directory_path() / ("nmt_cli_" + type + ".json");
  std::ofstream(config) << R"({"data": {"path": ")" NMT_SOURCE_DIR R"(/tests/fixtures/overfit_fra.txt", "num_examples": null,
      "num_steps": 8, "min_freq": 1, "test_ratio": 0.25},
    "model": {"type": ")" << type << R"(", "embed_size": 16, "num_hiddens": 16, "num_layers": 2, "ffn_num_hiddens": 32},
    "train": {"batch_size": 4, "num_epochs": 3, "device": "cpu"}})";
  const Result r = sh(std::string(NMT_BINARY) + " train --overwrite --config " + config.string() + " --output " +
                      dir.string() + " 2>/dev/null");
  REQUIRE(r.code == 0);
  done[type] = true;
  return dir;
}

}  // namespace

TEST_CASE("translate keeps one output line per input line, whatever the input", "[cli]") {
  const fs::path run = trained_run("seq2seq_attention");
  const fs::path input = fs::temp_directory_path() / "nmt_cli_odd_input.txt";
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
  const fs::path err = fs::temp_directory_path() / "nmt_cli_odd_err.txt";
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
  const fs::path json_file = fs::temp_directory_path() / ("nmt_cli_att_" + type + ".json");
  const fs::path plots = fs::temp_directory_path() / ("nmt_cli_plots_" + type);
  fs::remove_all(plots);
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
  const fs::path plots = fs::temp_directory_path() / "nmt_cli_eval_plots";
  fs::remove_all(plots);
  const Result r = sh(std::string(NMT_BINARY) + " eval --bleu --json --checkpoint " + run.string() +
                      " --split test --plot " + plots.string() + " --plot-count 1 2>/dev/null");
  REQUIRE(r.code == 0);
  const auto report = nlohmann::json::parse(r.out);
  const std::size_t n = nmt::common::read_lines((run / "test.ref").string()).size();
  CHECK(report["sentences"] == n);
  CHECK(report["split"] == "test");
  CHECK(report["bleu"].get<double>() >= 0.0);
  CHECK(report["corpus_bleu"]["precisions"].size() == 4);
  CHECK(fs::exists(run / "eval_test.json"));
  CHECK(nmt::common::read_lines((run / "test.hyp").string()).size() == n);
  CHECK(fs::exists(plots / "test_0001_encoder_decoder.png"));
  CHECK(sh(std::string(NMT_BINARY) + " eval --bleu --checkpoint " + run.string() + " --split train 2>/dev/null").code == 2);
}
