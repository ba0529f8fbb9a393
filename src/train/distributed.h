#pragma once
// Data-parallel training on c10d's ProcessGroupGloo (the engine LibTorch ships; PyTorch's
// torch.distributed with backend "gloo"): rendezvous through a FileStore or TCPStore, parameter broadcast,
// bucketed gradient all-reduce (the job of PyTorch's DistributedDataParallel, which the C++ frontend lacks),
// and the small collectives the trainer needs to keep its ranks in step.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace nmt::train {

/// Where and how one rank joins a data-parallel run.
struct DistOptions {
  int64_t rank = 0;         ///< this process, 0 .. world_size-1; rank 0 writes the run directory
  int64_t world_size = 1;   ///< number of processes
  /// Rendezvous: "file:///abs/path" (c10d::FileStore, every rank on one file system) or "tcp://HOST:PORT"
  /// (c10d::TCPStore served by rank 0 on PORT, HOST being rank 0's address).
  std::string url;
  double timeout_s = 600;   ///< rendezvous and collective timeout (s): a silent peer fails the run after it
  int64_t local_world_size = 1;  ///< ranks on this machine (they share its cores); 1 when unknown

  /// Throws std::invalid_argument naming the value: world_size < 1, rank outside [0, world_size), a url that
  /// is neither file:// with an absolute path nor tcp://HOST:PORT with a port in 1..65535, timeout_s <= 0.
  void validate() const;
};

/// The distributed launch the environment asks for, torchrun's way: RANK, WORLD_SIZE, MASTER_ADDR and
/// MASTER_PORT (url "tcp://MASTER_ADDR:MASTER_PORT"), or NMT_DIST_URL instead of the last two (what
/// `nmt train --nproc` gives its workers), LOCAL_WORLD_SIZE when set. std::nullopt when neither RANK nor
/// WORLD_SIZE is set. Throws std::invalid_argument naming the variable for a non-integer value, for RANK
/// without WORLD_SIZE (or the reverse), and for WORLD_SIZE > 1 without MASTER_ADDR/MASTER_PORT or NMT_DIST_URL.
std::optional<DistOptions> dist_options_from_env();

/// One rank's membership in a c10d Gloo process group. Every collective blocks until all ranks reach it (or
/// the timeout passes); all ranks must call the same collectives in the same order. Collective failures (a
/// peer that exited, a timeout) throw std::runtime_error naming this rank and the operation.
class ProcessGroup {
 public:
  /// Rendezvous: rank 0 creates (tcp: serves) the store, every rank connects within options.timeout_s, and the
  /// Gloo group forms on the address the url's host resolves to locally (loopback for a loopback master; the
  /// interface in GLOO_SOCKET_IFNAME when set; else this machine's host name). Throws std::invalid_argument for
  /// bad options (DistOptions::validate) and std::runtime_error naming host and port when rank 0 cannot listen
  /// (port in use) or a rank cannot reach the master or its peers within the timeout.
  static std::unique_ptr<ProcessGroup> connect(const DistOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const;
  int64_t world_size() const;
  int64_t local_world_size() const;  ///< ranks on this machine (DistOptions::local_world_size)
  double timeout_s() const;
  const std::string& url() const;    ///< the rendezvous url

  /// Sums each tensor (contiguous CPU float32/float64) over the ranks in place; every all-reduce is started
  /// before the first is waited for, so Gloo's threads work on them together.
  void allreduce_sum(std::vector<torch::Tensor>& tensors);
  /// Copies rank `root`'s `tensor` (contiguous CPU) into every rank's.
  void broadcast(torch::Tensor& tensor, int64_t root = 0);
  /// Every rank's `tensor` (same shape and dtype on all ranks, contiguous CPU), indexed by rank.
  std::vector<torch::Tensor> allgather(const torch::Tensor& tensor);
  /// True on every rank when `flag` is true on any rank.
  bool any(bool flag);

  /// Key-value exchange through the rendezvous store (set-up files, error reports). `get` blocks until the
  /// key exists or the timeout passes (std::runtime_error).
  void store_set(const std::string& key, const std::string& value);
  std::string store_get(const std::string& key);
  /// Whether `key` exists now (does not block).
  bool store_has(const std::string& key);

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Sums the gradients of `params` over the ranks in buckets of about `bucket_bytes` (PyTorch DDP's bucketing,
/// 25 MiB by default): each bucket is one flat float32 tensor the gradients are copied into (a parameter
/// without a gradient contributes zeros), all buckets and one float64 tensor of caller values are all-reduced
/// together, and only after every wait() are the sums copied back, multiplied by a scale the caller computes
/// from the summed values (e.g. 1 / total target tokens).
class GradientReducer {
 public:
  /// `params`: contiguous CPU float32 tensors (the model's parameters, same order on every rank).
  /// Throws std::invalid_argument for another dtype or device, or bucket_bytes < 4.
  explicit GradientReducer(std::vector<torch::Tensor> params, int64_t bucket_bytes = 25 << 20);

  /// Starts the all-reduce of every bucket and of `values`, waits for all, and returns the summed `values`;
  /// the gradients hold the sums until scale() is called.
  std::vector<double> reduce(ProcessGroup& group, const std::vector<double>& values);
  /// Writes the summed gradients, times `factor`, into every parameter's .grad (defining it when undefined); a
  /// parameter no rank had a gradient for is left without one (so the optimizer skips it, as it would in one
  /// process).
  void scale_into_grads(double factor);

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  /// Seconds the last reduce() spent in copying and in the collectives (host clock).
  double last_seconds() const { return last_seconds_; }

 private:
  struct Slot {
    std::size_t bucket;
    int64_t offset, numel;
  };
  std::vector<torch::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<torch::Tensor> buckets_;
  std::vector<bool> any_grad_;  ///< per parameter: some rank had its gradient in the last reduce()
  double last_seconds_ = 0;
};

/// A 64-bit hash of the exact bytes of `tensors` (contiguous CPU; order matters): equal hashes on two ranks mean
/// bit-identical tensors (up to 2^-64 collisions). Used to check that ranks have not diverged.
uint64_t tensors_hash(const std::vector<torch::Tensor>& tensors);

/// Cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

}  // namespace nmt::train
