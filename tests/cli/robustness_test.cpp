// Interruptions and reproducibility of `nmt train`, driven through the real executable.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/io.h"
#include "models/checkpoint.h"
#include "support/temp_dir.h"

extern char** environ;
namespace fs = std::filesystem;

namespace {

/// Starts `nmt args...` with stdout/stderr to `log`; returns the pid.
pid_t start(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> all{NMT_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, NMT_BINARY, &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run(const std::vector<std::string>& args, const fs::path& log) { return wait_exit(start(args, log)); }

/// True while `pid` (a child) has not exited.
bool still_running(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

/// Waits until `file` exists (up to 60 s).
void wait_for(const fs::path& file) {
  for (int i = 0; i < 6000 && !fs::exists(file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(fs::exists(file));
}

fs::path write_config(const fs::path& dir, int epochs, double lr = 0.01) {
  const fs::path p = dir / "config.json";
  std::ofstream(p) << R"({"data": {"path": ")" NMT_SOURCE_DIR R"(/tests/fixtures/overfit_fra.txt", "num_examples": null,
      "num_steps": 8, "min_freq": 1},
    "model": {"type": "seq2seq_attention", "embed_size": 16, "num_hiddens": 32, "num_layers": 2, "dropout": 0.2},
    "train": {"batch_size": 1, "num_epochs": )" << epochs << R"(, "lr": )" << lr << R"(, "device": "cpu", "seed": 5}})";
  return p;
}

void check_same_weights(const fs::path& a, const fs::path& b) {
  auto wa = nmt::models::load_checkpoint((a / "latest").string(), torch::kCPU);
  auto wb = nmt::models::load_checkpoint((b / "latest").string(), torch::kCPU);
  REQUIRE(wa.epoch == wb.epoch);
  REQUIRE(wa.step == wb.step);
  const auto pb = wb.model->named_parameters();
  for (const auto& p : wa.model->named_parameters()) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), pb[p.key()]));
  }
}

/// metrics.jsonl fields that the config and the seed determine (machine-dependent ones, such as timings,
/// threads or BLAS kernels, are left out): counters, the learning rate, and every loss and BLEU figure.
bool determined_by_config_and_seed(const std::string& key) {
  static const std::set<std::string> keys{"epoch", "step", "lr", "tokens", "best_epoch", "partial_epoch"};
  return keys.count(key) > 0 || key.find("loss") != std::string::npos || key.find("bleu") != std::string::npos;
}

/// Checks that two runs' metrics.jsonl hold the same records, bit for bit in every field the config and seed
/// determine.
void check_same_metrics(const fs::path& a, const fs::path& b) {
  const auto la = nmt::common::read_lines((a / "metrics.jsonl").string());
  const auto lb = nmt::common::read_lines((b / "metrics.jsonl").string());
  REQUIRE(la.size() == lb.size());
  REQUIRE_FALSE(la.empty());
  for (std::size_t i = 0; i < la.size(); ++i) {
    const auto ja = nlohmann::json::parse(la[i]), jb = nlohmann::json::parse(lb[i]);
    std::set<std::string> keys;
    for (const auto& j : {ja, jb})
      for (const auto& item : j.items()) keys.insert(item.key());
    CHECK(keys.count("train_loss") == 1);
    for (const auto& key : keys) {
      if (!determined_by_config_and_seed(key)) continue;
      INFO("metrics.jsonl line " << i + 1 << ", key " << key);
      const auto field = [&](const nlohmann::json& j) { return j.contains(key) ? j.at(key) : nlohmann::json(); };
      CHECK(field(ja) == field(jb));
    }
  }
}

/// The uninterrupted reference run, trained once per test process.
struct ReferenceRun {
  nmt::test::TempDir tmp{"robust"};
  fs::path config = write_config(tmp.path(), 60);
  fs::path full = tmp / "full";
  ReferenceRun() {
    REQUIRE(run({"train", "--config", config.string(), "--output", full.string()}, tmp / "full.log") == 0);
  }
};

const ReferenceRun& reference_run() {
  static const ReferenceRun r;
  return r;
}

}  // namespace

TEST_CASE("interrupted and resumed training ends where an uninterrupted run ends", "[robustness]") {
  const ReferenceRun& ref = reference_run();
  const fs::path& config = ref.config;
  const fs::path& full = ref.full;
  const nmt::test::TempDir tmp("robust_case");

  SECTION("the same config and seed give bit-identical metrics.jsonl and weights") {
    const fs::path again = tmp / "again";
    REQUIRE(run({"train", "--config", config.string(), "--output", again.string()}, tmp / "again.log") == 0);
    check_same_metrics(full, again);
    check_same_weights(full, again);
  }
  SECTION("SIGINT and SIGTERM write latest inside an epoch, exit 130/143, and --resume continues") {
    const int sig = GENERATE(SIGINT, SIGTERM);
    const fs::path dir = tmp / "sig";
    const pid_t pid = start({"train", "--config", config.string(), "--output", dir.string()}, tmp / "sig.log");
    wait_for(dir / "latest" / "state.json");
    REQUIRE(still_running(pid));  // else the signal would prove nothing
    kill(pid, sig);
    // Exit 0 would mean the run finished instead of stopping at the signal.
    REQUIRE(wait_exit(pid) == 128 + sig);
    CHECK_THAT(nmt::common::read_text((tmp / "sig.log").string()), Catch::Contains("--resume"));
    const auto state = nlohmann::json::parse(nmt::common::read_text((dir / "latest" / "state.json").string()));
    INFO(state.dump());
    CHECK(state.at("epoch").get<int64_t>() < 60);
    CHECK(state.at("batches_done").get<int64_t>() > 0);  // stopped inside an epoch, not at its end
    REQUIRE(run({"train", "--resume", "--output", dir.string()}, tmp / "sig2.log") == 0);
    check_same_weights(full, dir);
    check_same_metrics(full, dir);
  }
  SECTION("SIGKILL at an arbitrary step, then --resume") {
    const fs::path dir = tmp / "kill";
    const pid_t pid = start({"train", "--config", config.string(), "--output", dir.string()}, tmp / "kill.log");
    wait_for(dir / "latest" / "state.json");
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    REQUIRE(still_running(pid));
    kill(pid, SIGKILL);
    REQUIRE(wait_exit(pid) == 128 + SIGKILL);
    CHECK(nmt::models::load_checkpoint((dir / "latest").string(), torch::kCPU).epoch < 60);
    REQUIRE(run({"train", "--resume", "--output", dir.string()}, tmp / "kill2.log") == 0);
    check_same_weights(full, dir);
    check_same_metrics(full, dir);
  }
  SECTION("an existing run is not overwritten without --overwrite") {
    CHECK(run({"train", "--config", config.string(), "--output", full.string()}, tmp / "exists.log") == 2);
    CHECK_THAT(nmt::common::read_text((tmp / "exists.log").string()), Catch::Contains("--overwrite"));
  }
}

TEST_CASE("a diverging run stops with an error naming epoch and step", "[robustness]") {
  const nmt::test::TempDir tmp("robust_nan");
  const fs::path dir = tmp / "run";
  const int code = run({"train", "--config", write_config(tmp.path(), 50, 1e30).string(), "--output", dir.string()},
                       tmp / "nan.log");
  CHECK(code == 1);
  const std::string log = nmt::common::read_text((tmp / "nan.log").string());
  CHECK_THAT(log, Catch::Contains("not finite in epoch") && Catch::Contains("step"));
}

TEST_CASE("an interrupted checkpoint swap is recovered", "[robustness]") {
  const nmt::test::TempDir dir("recover");
  fs::create_directories(dir / "latest.old");
  std::ofstream(dir / "latest.old" / "model.pt") << "x";
  CHECK(nmt::common::recover_directory((dir / "latest").string()));
  CHECK(fs::exists(dir / "latest" / "model.pt"));
  CHECK_FALSE(fs::exists(dir / "latest.old"));
  CHECK_FALSE(nmt::common::recover_directory((dir / "latest").string()));
}
