// Data-parallel training through the real `nmt` executable: two ranks on loopback (Gloo), against one process on
// the union batches; resume, faults and launch errors.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/io.h"
#include "models/checkpoint.h"
#include "support/corpus_path.h"
#include "support/shell.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// The first `n` lines of fra.txt as a corpus file in `dir`.
fs::path corpus_head(const nmt::test::TempDir& dir, int n) {
  const std::string full = nmt::test::full_corpus_path();
  INFO(nmt::test::kCorpusMissing);
  REQUIRE(!full.empty());
  std::ifstream in(full);
  const fs::path out = dir / "fra.txt";
  std::ofstream o(out);
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) o << line << "\n";
  return out;
}

/// A small model of `type` on `corpus`, batch `batch` per process, `epochs` epochs, written to DIR/NAME.json.
fs::path write_config(const nmt::test::TempDir& dir, const std::string& name, const fs::path& corpus,
                      const std::string& type, int batch, int epochs, double dropout, double timeout_s = 60,
                      double lr = 0.005) {
  const std::string model =
      type == "transformer"
          ? R"("type": "transformer", "num_hiddens": 32, "num_layers": 2, "num_heads": 4, "ffn_num_hiddens": 64)"
          : R"("type": ")" + type + R"(", "embed_size": 32, "num_hiddens": 32, "num_layers": 2)";
  const fs::path path = dir / (name + ".json");
  std::ofstream(path) << R"({"data": {"path": ")" << corpus.string() << R"(", "num_examples": null, "num_steps": 10,
      "min_freq": 1, "valid_ratio": 0.05, "test_ratio": 0.05},
    "model": {)" << model << R"(, "dropout": )" << dropout << R"(},
    "train": {"batch_size": )" << batch << R"(, "num_epochs": )" << epochs << R"(, "lr": )" << lr << R"(, "bucket": true,
      "device": "cpu", "seed": 7, "valid_bleu_sentences": 20, "dist_timeout_s": )" << timeout_s << R"(}})";
  return path;
}

nmt::test::ShellResult nmt_run(const std::string& args) {
  return nmt::test::run_shell(std::string(NMT_BINARY) + " " + args + " 2>&1");
}

/// Largest absolute difference between the parameters of two checkpoints (same model).
double max_weight_diff(const fs::path& a, const fs::path& b) {
  auto ca = nmt::models::load_checkpoint(a.string(), torch::kCPU);
  auto cb = nmt::models::load_checkpoint(b.string(), torch::kCPU);
  double diff = 0;
  const auto pb = cb.model->named_parameters();
  for (const auto& p : ca.model->named_parameters())
    diff = std::max(diff, (p.value() - pb[p.key()]).abs().max().item<double>());
  return diff;
}

json read_json(const fs::path& p) { return json::parse(nmt::common::read_text(p.string())); }

/// "train --config C --output DIR/run" for a two-pair corpus and a 3-second train.dist_timeout_s, in `dir`.
std::string two_pair_train_args(const nmt::test::TempDir& dir) {
  const fs::path corpus = dir / "fra.txt";
  std::ofstream(corpus) << "Go.\tVa !\nHi.\tSalut !\n";
  const fs::path config = write_config(dir, "c", corpus, "seq2seq", 8, 1, 0.0, /*timeout_s=*/3);
  return "train --config " + config.string() + " --output " + (dir / "run").string();
}

/// A loopback TCP port nothing listens on now (bound, then released).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("nmt train --nproc 2 makes the updates of one process on the union batches", "[distributed][slow]") {
  const std::string type = GENERATE(as<std::string>{}, "seq2seq", "seq2seq_attention", "transformer");
  INFO("model " << type);
  nmt::test::TempDir dir("dist_equiv");
  const fs::path corpus = corpus_head(dir, 400);
  // Dropout 0: the ranks draw their own masks, which one process cannot reproduce. A small learning rate: Adam
  // turns the rounding differences of summing the gradients in another order into sign flips of near-zero
  // gradients (at lr 0.001 the Transformer's weights differ by 3e-5 after these 36 steps, at 0.0005 by 3e-6).
  const fs::path two = write_config(dir, "two", corpus, type, 16, 3, 0.0, 60, 0.0005);
  const fs::path one = write_config(dir, "one", corpus, type, 32, 3, 0.0, 60, 0.0005);
  const auto r2 = nmt_run("train --config " + two.string() + " --output " + (dir / "run2").string() + " --nproc 2");
  INFO(r2.out);
  REQUIRE(r2.code == 0);
  const auto r1 = nmt_run("train --config " + one.string() + " --output " + (dir / "run1").string());
  INFO(r1.out);
  REQUIRE(r1.code == 0);

  // Same steps, same losses, same weights (to float rounding: sums in another order).
  const auto s2 = read_json(dir / "run2" / "latest" / "state.json"), s1 = read_json(dir / "run1" / "latest" / "state.json");
  CHECK(s2.at("step") == s1.at("step"));
  CHECK(s2.at("world_size") == 2);
  CHECK(s1.at("world_size") == 1);
  const auto m2 = nmt::common::read_lines((dir / "run2" / "metrics.jsonl").string());
  const auto m1 = nmt::common::read_lines((dir / "run1" / "metrics.jsonl").string());
  REQUIRE(m2.size() == 3);
  REQUIRE(m1.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const json a = json::parse(m2[i]), b = json::parse(m1[i]);
    CHECK(a.at("tokens") == b.at("tokens"));
    CHECK_THAT(a.at("train_loss").get<double>(), Catch::WithinRel(b.at("train_loss").get<double>(), 1e-5));
  }
  const double diff = max_weight_diff(dir / "run2" / "latest", dir / "run1" / "latest");
  CHECK(diff < 1e-5);
  CHECK(diff > 0);  // two runs, not one copied

  // Rank 0 wrote one run directory; rank 1 checked in at every checkpoint that its weights and optimizer state
  // are bit-identical (a difference fails the run).
  CHECK(r2.out.find("bit-identical on all 2 ranks") != std::string::npos);
  CHECK(fs::exists(dir / "run2" / "latest" / "rng_rank1.pt"));
  CHECK(!fs::exists(dir / "run1" / "latest" / "rng_rank1.pt"));
  for (const auto& entry : fs::directory_iterator(dir / "run2"))
    CHECK(entry.path().filename().string().rfind("rendezvous", 0) == std::string::npos);
  const auto timing = json::parse(nmt::common::read_lines((dir / "run2" / "timing.jsonl").string()).back());
  CHECK(timing.at("world_size") == 2);
  CHECK(timing.at("allreduce_seconds_per_step").get<double>() > 0);

  // It translates as a single-process run does.
  const auto t = nmt::test::run_shell("echo 'go .' | " + std::string(NMT_BINARY) + " translate --checkpoint " +
                                      (dir / "run2").string() + " 2>/dev/null");
  CHECK(t.code == 0);
  CHECK(!t.out.empty());
}

/// The data and config of the resume tests, and the uninterrupted 2-rank run, made once per test process.
struct ResumeFixture {
  std::unique_ptr<nmt::test::TempDir> dir;
  fs::path config, full;
};

const ResumeFixture& resume_fixture() {
  static ResumeFixture f;
  if (f.dir) return f;
  auto dir = std::make_unique<nmt::test::TempDir>("dist_resume");
  const fs::path corpus = corpus_head(*dir, 1200);
  // Dropout exercises the ranks' own RNG states; 12 epochs leave time to stop the run after its first one.
  f.config = write_config(*dir, "c", corpus, "seq2seq_attention", 16, 12, 0.2);
  f.full = *dir / "full";
  const auto a = nmt_run("train --config " + f.config.string() + " --output " + f.full.string() + " --nproc 2");
  INFO(a.out);
  REQUIRE(a.code == 0);
  f.dir = std::move(dir);
  return f;
}

TEST_CASE("a 2-rank run resumed after an epoch limit or a signal ends as an uninterrupted 2-rank run",
          "[distributed][slow]") {
  const ResumeFixture& f = resume_fixture();
  nmt::test::TempDir dir("dist_resume_part");
  const std::string part = (dir / "part").string();
  SECTION("--epochs 2, then --resume") {
    const auto b = nmt_run("train --config " + f.config.string() + " --output " + part + " --nproc 2 --epochs 2");
    INFO(b.out);
    REQUIRE(b.code == 0);
    CHECK(read_json(dir / "part" / "latest" / "state.json").at("epoch") == 2);
  }
  SECTION("SIGTERM to the launcher mid-run, then --resume") {
    // Stop it once its first validation is written: every rank finishes its step, rank 0 writes latest/.
    const auto b = nmt::test::run_shell(
        std::string(NMT_BINARY) + " train --config " + f.config.string() + " --output " + part +
        " --nproc 2 > " + (dir / "log").string() + " 2>&1 & pid=$!; while [ ! -s " + part +
        "/metrics.jsonl ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; kill -TERM $pid; wait $pid; echo $?");
    INFO(nmt::common::read_text((dir / "log").string()));
    REQUIRE(b.out == "143\n");
    const auto state = read_json(dir / "part" / "latest" / "state.json");
    CHECK(state.at("step").get<int64_t>() < read_json(f.full / "latest" / "state.json").at("step").get<int64_t>());
  }
  const auto c = nmt_run("train --output " + part + " --resume --nproc 2 --epochs 12");
  INFO(c.out);
  REQUIRE(c.code == 0);
  CHECK(max_weight_diff(f.full / "latest", dir / "part" / "latest") == 0);
  CHECK(nmt::common::read_text((f.full / "metrics.jsonl").string()) == nmt::common::read_text(part + "/metrics.jsonl"));
}

TEST_CASE("a 2-rank run resumed by another number of processes is refused", "[distributed]") {
  nmt::test::TempDir dir("dist_resume_refused");
  const fs::path config = write_config(dir, "c", corpus_head(dir, 300), "seq2seq", 16, 1, 0.0);
  const std::string part = (dir / "part").string();
  const auto b = nmt_run("train --config " + config.string() + " --output " + part + " --nproc 2");
  REQUIRE(b.code == 0);
  const auto c = nmt_run("train --output " + part + " --resume --epochs 2");
  CHECK(c.code == 2);
  CHECK_THAT(c.out, Catch::Contains("trained by 2 process(es); resume it with the same number (--nproc 2), not 1"));
}

TEST_CASE("a time limit stops every rank mid-run, and lr_schedule linear reaches 0 on rank 0's clock",
          "[distributed]") {
  const int nproc = GENERATE(1, 2);
  INFO("--nproc " << nproc);
  nmt::test::TempDir dir("dist_time_limit");
  const fs::path config = write_config(dir, "c", corpus_head(dir, 1200), "seq2seq", 16, 1000, 0.0);
  json c = read_json(config);
  c["train"]["lr_schedule"] = "linear";
  c["train"]["warmup_steps"] = 1;
  c["train"]["valid_every_steps"] = 10;
  std::ofstream(config) << c.dump();
  const auto r = nmt_run("train --config " + config.string() + " --output " + (dir / "run").string() +
                         " --max-minutes 0.05 --nproc " + std::to_string(nproc));
  INFO(r.out);
  REQUIRE(r.code == 0);
  // 1,000 epochs of about 32 batches would take several minutes: the 3-second limit ends the run long before.
  const auto state = read_json(dir / "run" / "latest" / "state.json");
  CHECK(state.at("world_size") == nproc);
  CHECK(state.at("epoch").get<int64_t>() < 1000);
  const auto lines = nmt::common::read_lines((dir / "run" / "metrics.jsonl").string());
  REQUIRE(lines.size() >= 3);
  // With 1,000 epochs the epoch-based share of the budget stays near 1%, so a rate that falls below a third of the
  // peak before the stop is the time-based share (rank 0's, sent to every rank with the step's sums).
  double previous = 0.005;
  for (const auto& line : lines) {
    const double lr = json::parse(line).at("lr").get<double>();
    CHECK(lr <= previous);
    previous = lr;
  }
  CHECK(previous < 0.005 / 3);
  // Every rank took the same steps at the same rates: the checkpoint at the stop is the same on every rank.
  if (nproc == 2) CHECK(r.out.find("bit-identical on all 2 ranks") != std::string::npos);
}

TEST_CASE("ranks started by hand with torchrun's variables meet over TCP and train as --nproc does",
          "[distributed]") {
  nmt::test::TempDir dir("dist_tcp");
  const fs::path corpus = corpus_head(dir, 600);
  const fs::path config = write_config(dir, "c", corpus, "transformer", 16, 2, 0.1);
  const auto a = nmt_run("train --config " + config.string() + " --output " + (dir / "a").string() + " --nproc 2");
  INFO(a.out);
  REQUIRE(a.code == 0);
  // One OpenBLAS thread each, as --nproc 2 gives on two cores.
  const std::string env = "OPENBLAS_NUM_THREADS=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) +
                          " WORLD_SIZE=2";
  const std::string cmd = std::string(NMT_BINARY) + " train --config " + config.string() + " --output " +
                          (dir / "b").string();
  const auto b = nmt::test::run_shell(env + " RANK=1 " + cmd + " > " + (dir / "log1").string() + " 2>&1 & p1=$!; " +
                                      env + " RANK=0 " + cmd + " > " + (dir / "log0").string() +
                                      " 2>&1; c0=$?; wait $p1; echo $c0 $?");
  INFO(nmt::common::read_text((dir / "log0").string()));
  INFO(nmt::common::read_text((dir / "log1").string()));
  CHECK(b.out == "0 0\n");
  CHECK(max_weight_diff(dir / "a" / "latest", dir / "b" / "latest") == 0);  // dropout included: same rank streams
  CHECK(nmt::common::read_text((dir / "log1").string()).empty());           // rank 1 only warns
}

TEST_CASE("a rank that dies ends the others with an error naming it, never a hang", "[distributed]") {
  nmt::test::TempDir dir("dist_fault");
  const fs::path corpus = corpus_head(dir, 1200);
  const fs::path config = write_config(dir, "c", corpus, "seq2seq", 8, 200, 0.0, /*timeout_s=*/20);
  SECTION("through the launcher") {
    const auto r = nmt::test::run_shell(
        std::string(NMT_BINARY) + " train --config " + config.string() + " --output " + (dir / "run").string() +
        " --nproc 2 > " + (dir / "log").string() + " 2>&1 & pid=$!; while [ ! -s " + (dir / "run").string() +
        "/metrics.jsonl ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; pkill -KILL -n -P $pid; "
        "start=$(date +%s); wait $pid; echo $? $(( $(date +%s) - start ))");
    const std::string log = nmt::common::read_text((dir / "log").string());
    INFO(log);
    INFO(r.out);
    int code = 0, seconds = 0;
    REQUIRE(std::sscanf(r.out.c_str(), "%d %d", &code, &seconds) == 2);
    CHECK(code == 1);
    CHECK(seconds < 20);
    CHECK_THAT(log, Catch::Contains("[dist] rank 1 (pid ") && Catch::Contains(") was killed by signal 9 (SIGKILL)"));
  }
  SECTION("ranks started by hand: the survivor fails on its own within train.dist_timeout_s") {
    const std::string url = "file://" + (dir / "store").string();
    const std::string cmd = std::string(NMT_BINARY) + " train --config " + config.string() + " --output " +
                            (dir / "run").string() + " --dist-url " + url + " --world-size 2";
    const auto r = nmt::test::run_shell(
        cmd + " --rank 0 > " + (dir / "log0").string() + " 2>&1 & p0=$!; " + cmd + " --rank 1 > " +
        (dir / "log1").string() + " 2>&1 & p1=$!; while [ ! -s " + (dir / "run").string() +
        "/metrics.jsonl ] && kill -0 $p0 2>/dev/null; do sleep 0.05; done; kill -KILL $p1; start=$(date +%s); "
        "wait $p0; echo $? $(( $(date +%s) - start ))");
    const std::string log = nmt::common::read_text((dir / "log0").string());
    INFO(log);
    int code = 0, seconds = 0;
    REQUIRE(std::sscanf(r.out.c_str(), "%d %d", &code, &seconds) == 2);
    CHECK(code == 1);
    CHECK(seconds <= 25);
    CHECK_THAT(log, Catch::Contains("[dist] rank 0/2:") && Catch::Contains("failed: rank 1 exited or stopped answering"));
  }
}

TEST_CASE("bad distributed launches are clear errors", "[distributed]") {
  nmt::test::TempDir dir("dist_errors");
  const std::string train = two_pair_train_args(dir);
  struct Case {
    std::string args, message;
    int code;
  };
  const int port = free_port();
  const std::string tcp = " --dist-url tcp://127.0.0.1:" + std::to_string(port);
  const auto c = GENERATE_COPY(values<Case>({
      {"--world-size 0 --rank 0" + tcp, "world size 0 must be >= 1", 2},
      {"--world-size 2 --rank 2" + tcp, "rank 2 is outside 0..1 (world size 2)", 2},
      {"--world-size 2 --rank -1" + tcp, "rank -1 is outside 0..1", 2},
      {"--world-size 2" + tcp, "--rank is missing", 2},
      {"--world-size 2 --rank 1", "needs the master's address", 2},
      {"--world-size 2 --rank 1 --dist-url tcp://127.0.0.1", "expected tcp://HOST:PORT", 2},
      {"--world-size 2 --rank 1 --dist-url udp://x:1", "must start with tcp:// or file://", 2},
      {"--nproc 2 --rank 0 --world-size 2" + tcp, "--nproc starts its own ranks", 2},
      {"--nproc 4096", "exceeds the", 2},
      {"--world-size 2 --rank 1" + tcp, "rank 1 cannot reach the master at 127.0.0.1:" + std::to_string(port), 1},
  }));
  INFO(c.args);
  const auto r = nmt_run(train + " " + c.args);
  INFO(r.out);
  CHECK(r.code == c.code);
  CHECK_THAT(r.out, Catch::Contains(c.message));
}

TEST_CASE("bad distributed environments and a busy port are clear errors", "[distributed]") {
  nmt::test::TempDir dir("dist_env_errors");
  const std::string train = two_pair_train_args(dir);
  SECTION("environment: RANK and WORLD_SIZE without a master") {
    const auto e = nmt::test::run_shell("env -u MASTER_ADDR -u MASTER_PORT RANK=1 WORLD_SIZE=2 " +
                                        std::string(NMT_BINARY) + " " + train + " 2>&1");
    CHECK(e.code == 2);
    CHECK_THAT(e.out, Catch::Contains("WORLD_SIZE=2 needs the master's address: set MASTER_ADDR and MASTER_PORT"));
    const auto f = nmt::test::run_shell("env RANK=1 " + std::string(NMT_BINARY) + " " + train + " 2>&1");
    CHECK(f.code == 2);
    CHECK_THAT(f.out, Catch::Contains("RANK is set but WORLD_SIZE is not"));
  }
  SECTION("a port in use") {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd, 4) == 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    const std::string busy = std::to_string(ntohs(addr.sin_port));
    const auto e = nmt_run(train + " --world-size 2 --rank 0 --dist-url tcp://127.0.0.1:" + busy);
    close(fd);
    CHECK(e.code == 1);
    CHECK_THAT(e.out, Catch::Contains("rank 0 cannot serve the rendezvous on 127.0.0.1:" + busy));
  }
}
