#pragma once
// `nmt train --nproc N`: starts N training processes of this executable on this machine, as torchrun's
// --nproc-per-node does, and supervises them.

#include <string>
#include <vector>

namespace nmt::cli {

/// What launch_workers starts.
struct LaunchOptions {
  int64_t nproc = 2;                  ///< worker processes (ranks 0 .. nproc-1)
  std::vector<std::string> args;      ///< the workers' arguments after the program name ("train", "--config", ...)
  std::string run_dir;                ///< the run directory; the rendezvous file lives there while the run lasts
  double timeout_s = 600;             ///< after a rank fails, how long the others get to exit before SIGKILL (s)
};

/// Starts options.nproc copies of /proc/self/exe with `args` and the environment of a distributed launch
/// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, NMT_DIST_URL=file://RUN_DIR/rendezvous.PID) and each with
/// an equal share of this process's cores (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = cores / nproc), then waits
/// for them. SIGINT and SIGTERM are passed on to every worker (they stop after their current step). When a
/// worker fails (non-zero exit or killed by a signal), the error names its rank and pid, the others get SIGTERM
/// and, after options.timeout_s, SIGKILL. Returns the exit code: 0 when all succeed; 128 + signal when this
/// process was interrupted; else the first failing worker's status (1 when it was killed by a signal).
/// Throws std::invalid_argument when nproc < 1 or exceeds the cores this process may use, std::runtime_error
/// when the run directory cannot be made or a process cannot be started.
int launch_workers(const LaunchOptions& options);

}  // namespace nmt::cli
