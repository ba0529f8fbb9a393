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
#include <thread>

#include <torch/torch.h>

#include "common/io.h"
#include "train/checkpoint.h"

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

/// Waits until `file` exists (up to 60 s).
void wait_for(const fs::path& file) {
  for (int i = 0; i < 6000 && !fs::exists(file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(fs::exists(file));
}

fs::path write_config(const std::string& name, int epochs, double lr = 0.01) {
  const fs::path p = fs::temp_directory_path() / (name + ".json");
  std::ofstream(p) << R"({"data": {"path": ")" NMT_SOURCE_DIR R"(/tests/fixtures/overfit_fra.txt", "num_examples": null,
      "num_steps": 8, "min_freq": 1},
    "model": {"type": "seq2seq_attention", "embed_size": 16, "num_hiddens": 32, "num_layers": 2, "dropout": 0.2},
    "train": {"batch_size": 1, "num_epochs": )" << epochs << R"(, "lr": )" << lr << R"(, "device": "cpu", "seed": 5}})";
  return p;
}

void check_same_weights(const fs::path& a, const fs::path& b) {
  auto wa = nmt::train::load_checkpoint((a / "latest").string(), torch::kCPU);
  auto wb = nmt::train::load_checkpoint((b / "latest").string(), torch::kCPU);
  REQUIRE(wa.state.epoch == wb.state.epoch);
  const auto pb = wb.model->named_parameters();
  for (const auto& p : wa.model->named_parameters()) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), pb[p.key()]));
  }
}

}  // namespace

TEST_CASE("interrupted and resumed training ends where an uninterrupted run ends", "[robustness]") {
  const fs::path tmp = fs::temp_directory_path();
  const fs::path config = write_config("nmt_robust", 60);
  const fs::path full = tmp / "nmt_robust_full";
  fs::remove_all(full);
  REQUIRE(run({"train", "--config", config.string(), "--output", full.string()}, tmp / "nmt_robust_full.log") == 0);

  SECTION("the same config and seed give bit-identical metrics.jsonl and weights") {
    const fs::path again = tmp / "nmt_robust_again";
    fs::remove_all(again);
    REQUIRE(run({"train", "--config", config.string(), "--output", again.string()}, tmp / "nmt_robust_again.log") == 0);
    CHECK(nmt::common::read_text((full / "metrics.jsonl").string()) ==
          nmt::common::read_text((again / "metrics.jsonl").string()));
    check_same_weights(full, again);
  }
  SECTION("SIGINT and SIGTERM write latest, exit 130/143, and --resume continues") {
    const int sig = GENERATE(SIGINT, SIGTERM);
    const fs::path dir = tmp / "nmt_robust_sig";
    fs::remove_all(dir);
    const pid_t pid = start({"train", "--config", config.string(), "--output", dir.string()}, tmp / "nmt_robust_sig.log");
    wait_for(dir / "latest" / "state.json");
    kill(pid, sig);
    const int code = wait_exit(pid);
    if (code == 0) WARN("training finished before the signal arrived");
    else CHECK(code == 128 + sig);
    CHECK_THAT(nmt::common::read_text((tmp / "nmt_robust_sig.log").string()),
               code == 0 ? Catch::Contains("done") : Catch::Contains("--resume"));
    REQUIRE(run({"train", "--resume", "--output", dir.string()}, tmp / "nmt_robust_sig2.log") == 0);
    check_same_weights(full, dir);
    CHECK(nmt::common::read_text((full / "metrics.jsonl").string()) ==
          nmt::common::read_text((dir / "metrics.jsonl").string()));
  }
  SECTION("SIGKILL at an arbitrary step, then --resume") {
    const fs::path dir = tmp / "nmt_robust_kill";
    fs::remove_all(dir);
    const pid_t pid = start({"train", "--config", config.string(), "--output", dir.string()}, tmp / "nmt_robust_kill.log");
    wait_for(dir / "latest" / "state.json");
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    kill(pid, SIGKILL);
    wait_exit(pid);
    REQUIRE(run({"train", "--resume", "--output", dir.string()}, tmp / "nmt_robust_kill2.log") == 0);
    check_same_weights(full, dir);
  }
  SECTION("an existing run is not overwritten without --overwrite") {
    CHECK(run({"train", "--config", config.string(), "--output", full.string()}, tmp / "nmt_robust_exists.log") == 2);
    CHECK_THAT(nmt::common::read_text((tmp / "nmt_robust_exists.log").string()), Catch::Contains("--overwrite"));
  }
}

TEST_CASE("a diverging run stops with an error naming epoch and step", "[robustness]") {
  const fs::path tmp = fs::temp_directory_path();
  const fs::path dir = tmp / "nmt_robust_nan";
  fs::remove_all(dir);
  const int code = run({"train", "--config", write_config("nmt_robust_nan", 50, 1e30).string(), "--output", dir.string()},
                       tmp / "nmt_robust_nan.log");
  CHECK(code == 1);
  const std::string log = nmt::common::read_text((tmp / "nmt_robust_nan.log").string());
  CHECK_THAT(log, Catch::Contains("not finite in epoch") && Catch::Contains("step"));
}

TEST_CASE("an interrupted checkpoint swap is recovered", "[robustness]") {
  const fs::path dir = fs::temp_directory_path() / "nmt_recover";
  fs::remove_all(dir);
  fs::create_directories(dir / "latest.old");
  std::ofstream(dir / "latest.old" / "model.pt") << "x";
  CHECK(nmt::common::recover_directory((dir / "latest").string()));
  CHECK(fs::exists(dir / "latest" / "model.pt"));
  CHECK_FALSE(fs::exists(dir / "latest.old"));
  CHECK_FALSE(nmt::common::recover_directory((dir / "latest").string()));
}
