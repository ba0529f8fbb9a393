#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/shell.h"
#include "support/temp_dir.h"
#include "train/distributed.h"

namespace fs = std::filesystem;

namespace {

using Run = nmt::test::ShellResult;

/// `nmt ARGS` with stdout and stderr together; `env` (e.g. "NMT_FUSED=0 ") is put before the command.
Run run(const std::string& args, const std::string& env = "") {
  return nmt::test::run_shell(env + std::string(NMT_BINARY) + " " + args + " 2>&1");
}

/// Writes `text` to `dir/name` and returns the path.
fs::path write_file(const nmt::test::TempDir& dir, const std::string& name, const std::string& text) {
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

}  // namespace

TEST_CASE("nmt command line", "[cli]") {
  const nmt::test::TempDir tmp("cli");
  SECTION("--help lists the subcommands") {
    const Run r = run("--help");
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("train") && Catch::Contains("translate") && Catch::Contains("eval"));
  }
  SECTION("a bad subcommand exits non-zero") { CHECK(run("frobnicate").code != 0); }
  SECTION("with OPENBLAS_CORETYPE unset on an AVX2 CPU, nmt runs non-generic BLAS kernels") {
    const Run r = run("info");
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("\"blas\""));
    const auto dist = nlohmann::json::parse(r.out).at("distributed");
    CHECK(dist.at("cores").get<int>() == nmt::train::available_cores());
    CHECK(dist.at("threads_per_rank_by_nproc").at("1") == dist.at("cores"));
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
      WARN("this CPU lacks AVX2/FMA: nothing to check");
      return;
    }
    const std::string cmd = "env -u OPENBLAS_CORETYPE -u NMT_BLAS_REEXEC " + std::string(NMT_BINARY) + " info";
    const Run clean = nmt::test::run_shell(cmd);
    REQUIRE(clean.code == 0);
    const auto j = nlohmann::json::parse(clean.out);
    const std::string core = j["blas"]["core"];
    INFO("core " << core);
    CHECK_FALSE(core.empty());
    for (const char* generic : {"Prescott", "Core2", "Nehalem", "Katmai", "Penryn", "Dunnington", "Atom", "Sandybridge"})
      CHECK(core != generic);
    CHECK(j["blas"]["chosen_by"] != "user");
  }
  SECTION("info reports the kernel build NMT_CPU_ISA forces and NMT_FUSED; bad values exit 2 naming them") {
    const Run forced = nmt::test::run_shell("NMT_CPU_ISA=generic NMT_FUSED=0 " + std::string(NMT_BINARY) + " info");
    REQUIRE(forced.code == 0);
    const auto j = nlohmann::json::parse(forced.out);
    CHECK(j["kernels"]["isa"] == "generic");
    CHECK(j["kernels"]["fused"] == false);
    const Run bad_isa = run("info", "NMT_CPU_ISA=sse9 ");
    CHECK(bad_isa.code == 2);
    CHECK_THAT(bad_isa.out, Catch::Contains("NMT_CPU_ISA") && Catch::Contains("sse9"));
    const Run bad_fused = run("info", "NMT_FUSED=maybe ");
    CHECK(bad_fused.code == 2);
    CHECK_THAT(bad_fused.out, Catch::Contains("NMT_FUSED") && Catch::Contains("maybe"));
  }
  SECTION("config errors exit 2 and name the key") {
    const auto p = write_file(tmp, "nmt_cli_bad.json", R"({"model": {"num_hidens": 8}})");
    const Run r = run("train --config " + p.string() + " --output " + (tmp / "run").string());
    CHECK(r.code == 2);
    CHECK_THAT(r.out, Catch::Contains("model.num_hidens") && Catch::Contains("model.num_hiddens"));
  }
  SECTION("a missing data file exits 1 and names the file") {
    const auto p = write_file(tmp, "nmt_cli_nodata.json", R"({"data": {"path": "/nonexistent/fra.txt"}})");
    const auto out = tmp / "run";
    const Run r = run("train --config " + p.string() + " --output " + out.string());
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Catch::Contains("/nonexistent/fra.txt"));
    // The failed start wrote no checkpoint, so starting again needs no --overwrite: the same data error again.
    const Run again = run("train --config " + p.string() + " --output " + out.string());
    CHECK(again.code == 1);
    CHECK_THAT(again.out, Catch::Contains("/nonexistent/fra.txt") && !Catch::Contains("already holds a run"));
  }
  SECTION("cuda where there is none is a clear error") {
    const auto p = write_file(tmp, "nmt_cli_cuda.json", R"({"train": {"device": "cuda:3"}})");
    const auto out = tmp / "run";
    const Run r = run("train --config " + p.string() + " --output " + out.string());
    CHECK(r.code == 2);
    CHECK_THAT(r.out, Catch::Contains("cuda:3"));
  }
  SECTION("eval scores files without a model") {
    const auto h = write_file(tmp, "nmt_cli_hyp.txt", "Il est calme.\nje suis chez moi .\n");
    const auto ref = write_file(tmp, "nmt_cli_ref.txt", "il est calme .\nje suis chez moi .\n");
    // --tokenized: both sides preprocessed as d2l's data is, so case and spacing do not count.
    const Run r = run("eval --bleu --json --tokenized --hypotheses " + h.string() + " --references " + ref.string());
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("\"bleu\": 100.0") && Catch::Contains("\"scoring\": \"tokenized\""));
    // By default the files are scored as written (sacreBLEU): "Il" is not "il"; --lowercase makes them equal.
    const Run cased = run("eval --bleu --json --hypotheses " + h.string() + " --references " + ref.string());
    CHECK(cased.code == 0);
    CHECK_THAT(cased.out, !Catch::Contains("\"bleu\": 100.0") && Catch::Contains("case:mixed"));
    const Run lc = run("eval --bleu --json --lowercase --hypotheses " + h.string() + " --references " + ref.string());
    CHECK_THAT(lc.out, Catch::Contains("\"bleu\": 100.0") && Catch::Contains("\"chrf2\": 100.0") &&
                           Catch::Contains("nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0"));
    const auto short_ref = write_file(tmp, "nmt_cli_ref1.txt", "il est calme .\n");
    CHECK(run("eval --bleu --hypotheses " + h.string() + " --references " + short_ref.string()).code == 2);
  }
}
