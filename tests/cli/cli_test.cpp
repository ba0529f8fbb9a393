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

/// `nmt ARGS` with its stdout only (stderr dropped): for --json reports.
Run run_stdout(const std::string& args) { return nmt::test::run_shell(std::string(NMT_BINARY) + " " + args + " 2>/dev/null"); }

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
    const Run second_short = run("eval --bleu --hypotheses " + h.string() + " --references " + ref.string() + " " +
                                 short_ref.string());
    CHECK(second_short.code == 2);
    CHECK_THAT(second_short.out, Catch::Contains(short_ref.string()) && Catch::Contains("has 1"));
    CHECK(run("eval --bleu --multi-ref --hypotheses " + h.string() + " --references " + ref.string()).code == 2);
  }
  SECTION("eval with two reference files agrees with sacreBLEU 2.6.0") {
    // The issue's example: two hypotheses (runs of spaces, a trailing space), two reference sets.
    const auto h = write_file(tmp, "nmt_cli_mh.txt",
                              "The cat sat on the mat.\n"
                              "Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. \n");
    const auto r1 = write_file(tmp, "nmt_cli_mr1.txt",
                               "The cat is on the mat.\n"
                               "Das Verh\xC3\xA4ltnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.\n");
    const auto r2 = write_file(tmp, "nmt_cli_mr2.txt",
                               "There is a cat on the mat.\n"
                               "Die Beziehung zwischen Obama und Netanjahu ist nicht freundlich.\n");
    const Run one = run_stdout("eval --bleu --json --hypotheses " + h.string() + " --references " + r1.string());
    REQUIRE(one.code == 0);
    const auto j1 = nlohmann::json::parse(one.out);
    CHECK_THAT(j1["bleu"].get<double>(), Catch::Matchers::WithinAbs(30.450743, 5e-7));
    CHECK_THAT(j1["chrf2"].get<double>(), Catch::Matchers::WithinAbs(65.374836, 5e-7));
    CHECK_THAT(j1["chrf2pp"].get<double>(), Catch::Matchers::WithinAbs(64.319463, 5e-7));
    const Run two = run_stdout("eval --bleu --json --hypotheses " + h.string() + " --references " + r1.string() +
                               " " + r2.string());
    REQUIRE(two.code == 0);
    const auto j2 = nlohmann::json::parse(two.out);
    CHECK_THAT(j2["bleu"].get<double>(), Catch::Matchers::WithinAbs(70.472725, 5e-7));
    CHECK_THAT(j2["chrf2"].get<double>(), Catch::Matchers::WithinAbs(87.847902, 5e-7));
    CHECK_THAT(j2["chrf2pp"].get<double>(), Catch::Matchers::WithinAbs(87.386112, 5e-7));
    CHECK(j2["bleu_signature"] == "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
    CHECK(j2["chrf2pp_signature"] == "nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0");
    CHECK_FALSE(j2.contains("d2l_bleu"));  // d2l's sentence BLEU takes one reference
  }
  SECTION("average needs checkpoints and an output") {
    CHECK(run("average --output " + (tmp / "avg").string()).code == 2);
    const Run missing = run("average --output " + (tmp / "avg").string() + " " + (tmp / "nothing").string());
    CHECK(missing.code == 1);
    CHECK_THAT(missing.out, Catch::Contains("nothing"));
  }
}
