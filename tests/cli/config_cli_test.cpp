// `nmt config`: describe, check and defaults as the nmt executable prints them, and README's key table.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "support/shell.h"

namespace fs = std::filesystem;

namespace {

using Run = nmt::test::ShellResult;

/// `nmt ARGS`, standard output only (stderr, where the logs go, is dropped).
Run run_stdout(const std::string& args) {
  return nmt::test::run_shell(std::string(NMT_BINARY) + " " + args + " 2>/dev/null");
}

/// `nmt ARGS` with stdout and stderr together.
Run run_all(const std::string& args) { return nmt::test::run_shell(std::string(NMT_BINARY) + " " + args + " 2>&1"); }

/// Writes `text` to a file of the temporary directory; names are unique to this file's tests.
fs::path write_file(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / name;
  std::ofstream(p) << text;
  return p;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("nmt config --describe prints every key, grouped by section", "[cli][config]") {
  const Run r = run_stdout("config --describe");
  REQUIRE(r.code == 0);
  CHECK(r.out == nmt::common::describe_text());
  for (const auto& k : nmt::common::describe_keys()) {
    INFO(k.key);
    CHECK_THAT(r.out, Catch::Contains("  " + k.key + " "));
  }
  // Sections in order, each key under its own section's heading.
  const auto data = r.out.find("\ndata: "), model = r.out.find("\nmodel: "), train = r.out.find("\ntrain: ");
  REQUIRE(data != std::string::npos);
  REQUIRE(model != std::string::npos);
  REQUIRE(train != std::string::npos);
  CHECK(data < r.out.find("  data.path "));
  CHECK(r.out.find("  data.test_ratio ") < model);
  CHECK(model < r.out.find("  model.type "));
  CHECK(r.out.find("  model.tie_embeddings ") < train);
  CHECK(train < r.out.find("  train.valid_every_steps "));
  const auto decode = r.out.find("\ndecode: ");
  REQUIRE(decode != std::string::npos);
  CHECK(r.out.find("  train.num_threads ") < decode);
  CHECK(decode < r.out.find("  decode.beam_size "));
}

TEST_CASE("nmt config --describe --markdown is README's key table", "[cli][config]") {
  const Run r = run_stdout("config --describe --markdown");
  REQUIRE(r.code == 0);
  CHECK(r.out == nmt::common::describe_markdown());
  // README holds the same text between its markers, so the table cannot drift from the code.
  const std::string readme = read_file(fs::path(NMT_SOURCE_DIR) / "README.md");
  const std::string begin = "<!-- config-keys:begin -->\n", end = "<!-- config-keys:end -->";
  const auto b = readme.find(begin);
  REQUIRE(b != std::string::npos);
  const auto e = readme.find(end, b);
  REQUIRE(e != std::string::npos);
  CHECK(readme.substr(b + begin.size(), e - b - begin.size()) == r.out);
}

TEST_CASE("nmt config --defaults prints the default config", "[cli][config]") {
  const Run r = run_stdout("config --defaults");
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j == nmt::common::Config().to_json());
  CHECK(j["model"]["type"] == "seq2seq");
  CHECK(j["train"]["valid_every_steps"] == 0);
  CHECK(j["data"]["num_examples"] == 600);
  CHECK(j["decode"]["beam_size"] == 4);
  CHECK(j["decode"]["length_penalty"] == "gnmt");
}

TEST_CASE("nmt config --check: exit 0 for a valid file, 2 for a bad one, 1 for a missing one", "[cli][config]") {
  const auto good = write_file("nmt_config_cli_good.json", R"({"model": {"type": "transformer", "num_heads": 8}})");
  CHECK(run_all("config --check " + good.string()).code == 0);
  CHECK(run_stdout("config --check " + good.string()).out.empty());  // the verdict is a log line, on stderr

  const auto bad = write_file("nmt_config_cli_bad.json", R"({"train": {"valid_every_steps": -5}})");
  Run r = run_all("config --check " + bad.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.out, Catch::Contains(bad.string() + ": config key \"train.valid_every_steps\" = -5 is out of range"));

  const auto typo = write_file("nmt_config_cli_typo.json", R"({"train": {"valid_every_step": 100}})");
  r = run_all("config --check " + typo.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.out, Catch::Contains("did you mean \"train.valid_every_steps\"?"));

  const auto malformed = write_file("nmt_config_cli_malformed.json", "{\"train\": {\n  \"lr\": ,\n}}\n");
  r = run_all("config --check " + malformed.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.out, Catch::Contains(malformed.string() + ":2:"));

  r = run_all("config --check " + (fs::temp_directory_path() / "nmt_config_cli_missing.json").string());
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("cannot open config file"));

  // Every shipped config is valid.
  for (const auto& entry : fs::directory_iterator(fs::path(NMT_SOURCE_DIR) / "configs")) {
    INFO(entry.path());
    CHECK(run_all("config --check " + entry.path().string()).code == 0);
  }
}

TEST_CASE("nmt config: no action, or actions that exclude each other, exit 2", "[cli][config]") {
  CHECK(run_all("config").code == 2);
  CHECK(run_all("config --markdown").code == 2);  // needs --describe
  CHECK(run_all("config --describe --defaults").code == 2);
  CHECK(run_all("config --describe --check configs/default.json").code == 2);
  CHECK(run_all("config --frobnicate").code == 2);
  const Run help = run_all("config --help");
  CHECK(help.code == 0);
  CHECK_THAT(help.out, Catch::Contains("--describe") && Catch::Contains("--check") && Catch::Contains("--defaults"));
}
