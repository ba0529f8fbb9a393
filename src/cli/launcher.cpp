#include "cli/launcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "train/distributed.h"

namespace nmt::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kMaxWorkers = 256;
pid_t g_workers[kMaxWorkers];
std::atomic<int> g_num_workers{0};
std::atomic<int> g_launcher_signal{0};

/// Passes SIGINT/SIGTERM on to every worker (kill(2) is async-signal-safe) and remembers it.
extern "C" void forward_signal(int signal_number) {
  g_launcher_signal = signal_number;
  const int n = g_num_workers.load();
  for (int i = 0; i < n; ++i)
    if (g_workers[i] > 0) kill(g_workers[i], signal_number);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "stopped (status " + std::to_string(status) + ")";
}

}  // namespace

int launch_workers(const LaunchOptions& options) {
  const int cores = train::available_cores();
  if (options.nproc < 1) throw std::invalid_argument("--nproc " + std::to_string(options.nproc) + " must be >= 1");
  if (options.nproc > cores || options.nproc > kMaxWorkers)
    throw std::invalid_argument("--nproc " + std::to_string(options.nproc) + " exceeds the " + std::to_string(cores) +
                                " core(s) this process may use: every rank needs a core of its own");
  const int64_t per_rank = cores / options.nproc;
  std::error_code ec;
  fs::create_directories(options.run_dir, ec);
  if (ec) throw std::runtime_error("cannot create the run directory " + options.run_dir + ": " + ec.message());
  const std::string store = fs::absolute(options.run_dir).lexically_normal().string() + "/rendezvous." +
                            std::to_string(getpid());
  fs::remove(store, ec);

  // Build everything the children need before forking (only async-signal-safe calls after fork).
  std::vector<std::string> argv_text{"nmt"};
  argv_text.insert(argv_text.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string threads = std::to_string(per_rank);
  auto base_env = [&](int64_t rank) {
    std::vector<std::pair<std::string, std::string>> env{
        {"RANK", std::to_string(rank)},        {"WORLD_SIZE", std::to_string(options.nproc)},
        {"LOCAL_RANK", std::to_string(rank)},  {"LOCAL_WORLD_SIZE", std::to_string(options.nproc)},
        {"NMT_DIST_URL", "file://" + store},   {"OPENBLAS_NUM_THREADS", threads},
        {"OMP_NUM_THREADS", threads}};
    return env;
  };

  struct sigaction action {}, old_int {}, old_term {};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  g_num_workers = 0;
  g_launcher_signal = 0;
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  std::string pids;
  for (int64_t rank = 0; rank < options.nproc; ++rank) {
    const auto env = base_env(rank);
    const pid_t pid = fork();
    if (pid < 0) {
      const std::string why = std::strerror(errno);
      forward_signal(SIGKILL);
      throw std::runtime_error("cannot start rank " + std::to_string(rank) + ": fork failed: " + why);
    }
    if (pid == 0) {
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      unsetenv("MASTER_ADDR");
      unsetenv("MASTER_PORT");
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    g_workers[rank] = pid;
    g_num_workers = static_cast<int>(rank + 1);
    pids += (rank ? ", rank " : "rank ") + std::to_string(rank) + " pid " + std::to_string(pid);
  }
  spdlog::info("[dist] started {} ranks on this machine ({} core(s) each; {}); rendezvous file://{}", options.nproc,
               per_rank, pids, store);

  int exit_code = 0;
  int64_t running = options.nproc;
  bool kill_pending = false;  // a rank failed: SIGKILL whoever is left at kill_at
  Clock::time_point kill_at = Clock::now();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR) break;
    if (pid <= 0) {
      if (kill_pending && Clock::now() > kill_at) {
        spdlog::error("[dist] {} rank(s) still running {:.0f} s after the failure: killing them", running,
                      options.timeout_s);
        for (int64_t r = 0; r < options.nproc; ++r)
          if (g_workers[r] > 0) kill(g_workers[r], SIGKILL);
        kill_pending = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    int64_t rank = -1;
    for (int64_t r = 0; r < options.nproc; ++r)
      if (g_workers[r] == pid) rank = r;
    if (rank < 0) continue;
    g_workers[rank] = -1;
    --running;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const int sig = g_launcher_signal.load();
    // Interrupted: stopped after its step (exit 128 + signal), or killed by the signal before training began.
    const bool interrupted = sig != 0 && ((WIFEXITED(status) && WEXITSTATUS(status) == 128 + sig) ||
                                          (WIFSIGNALED(status) && WTERMSIG(status) == sig));
    if (ok || interrupted) continue;
    if (exit_code == 0) {
      exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      spdlog::error("[dist] rank {} (pid {}) {}; stopping the other ranks", rank, pid, describe_status(status));
      for (int64_t r = 0; r < options.nproc; ++r)
        if (g_workers[r] > 0) kill(g_workers[r], SIGTERM);
      kill_pending = true;
      kill_at = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
    } else {
      spdlog::warn("[dist] rank {} (pid {}) {}", rank, pid, describe_status(status));
    }
  }
  g_num_workers = 0;
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  fs::remove(store, ec);
  if (exit_code != 0) return exit_code;
  return g_launcher_signal.load() != 0 ? 128 + g_launcher_signal.load() : 0;
}

}  // namespace nmt::cli
