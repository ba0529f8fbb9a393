#include "train/distributed.h"

#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

namespace nmt::train {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

/// Parses a whole decimal integer; std::invalid_argument naming `what` otherwise.
int64_t parse_integer(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw std::invalid_argument(what + " = \"" + text + "\" is not an integer");
  return value;
}

struct TcpAddress {
  std::string host;
  int64_t port = 0;
};

/// "tcp://HOST:PORT" (HOST may be [v6]); std::invalid_argument naming the url otherwise.
TcpAddress parse_tcp(const std::string& url) {
  const std::string rest = url.substr(6);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("distributed url \"" + url + "\": expected tcp://HOST:PORT");
  TcpAddress a;
  a.host = rest.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  a.port = parse_integer(rest.substr(colon + 1), "the port of distributed url \"" + url + "\"");
  if (a.port < 1 || a.port > 65535)
    throw std::invalid_argument("distributed url \"" + url + "\": port " + std::to_string(a.port) + " is not in 1..65535");
  return a;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

void DistOptions::validate() const {
  if (world_size < 1) throw std::invalid_argument("world size " + std::to_string(world_size) + " must be >= 1");
  if (rank < 0 || rank >= world_size)
    throw std::invalid_argument("rank " + std::to_string(rank) + " is outside 0.." + std::to_string(world_size - 1) +
                                " (world size " + std::to_string(world_size) + ")");
  if (!(timeout_s > 0)) throw std::invalid_argument("distributed timeout " + std::to_string(timeout_s) + " s must be > 0");
  if (world_size == 1 && url.empty()) return;
  if (url.rfind("file://", 0) == 0) {
    if (url.size() < 8 || url[7] != '/')
      throw std::invalid_argument("distributed url \"" + url + "\": a file:// url needs an absolute path (file:///dir/store)");
  } else if (url.rfind("tcp://", 0) == 0) {
    parse_tcp(url);
  } else {
    throw std::invalid_argument(url.empty() ? std::string("a distributed run needs a rendezvous address (--dist-url "
                                                          "tcp://HOST:PORT, or MASTER_ADDR and MASTER_PORT)")
                                            : "distributed url \"" + url + "\" must start with tcp:// or file://");
  }
}

std::optional<DistOptions> dist_options_from_env() {
  const std::string rank = env("RANK"), world = env("WORLD_SIZE");
  if (rank.empty() && world.empty()) return std::nullopt;
  if (rank.empty() || world.empty())
    throw std::invalid_argument(std::string(rank.empty() ? "WORLD_SIZE" : "RANK") + " is set but " +
                                (rank.empty() ? "RANK" : "WORLD_SIZE") + " is not (a distributed launch needs both)");
  DistOptions o;
  o.rank = parse_integer(rank, "RANK");
  o.world_size = parse_integer(world, "WORLD_SIZE");
  const std::string local = env("LOCAL_WORLD_SIZE");
  if (!local.empty()) o.local_world_size = parse_integer(local, "LOCAL_WORLD_SIZE");
  o.url = env("NMT_DIST_URL");
  if (o.url.empty()) {
    const std::string addr = env("MASTER_ADDR"), port = env("MASTER_PORT");
    if (!addr.empty() || !port.empty()) {
      if (addr.empty()) throw std::invalid_argument("MASTER_PORT is set but MASTER_ADDR is not");
      if (port.empty()) throw std::invalid_argument("MASTER_ADDR is set but MASTER_PORT is not");
      parse_integer(port, "MASTER_PORT");
      o.url = "tcp://" + (addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" + port;
    } else if (o.world_size > 1) {
      throw std::invalid_argument("WORLD_SIZE=" + world + " needs the master's address: set MASTER_ADDR and "
                                  "MASTER_PORT (or pass --dist-url tcp://HOST:PORT)");
    }
  }
  return o;
}

struct ProcessGroup::Impl {
  DistOptions options;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;

  std::string where() const {
    return "rank " + std::to_string(options.rank) + "/" + std::to_string(options.world_size);
  }
  /// Waits for `work`; turns Gloo's errors into std::runtime_error naming the rank and `what`.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      // With two ranks the peer is known; with more, Gloo's message names the peer's address.
      const std::string peer = options.world_size == 2 ? "rank " + std::to_string(1 - options.rank) : "a peer rank";
      throw std::runtime_error("[dist] " + where() + ": " + what + " failed: " + peer + " exited or stopped answering " +
                               "within train.dist_timeout_s (" + std::to_string(static_cast<int64_t>(options.timeout_s)) +
                               " s): " + e.what());
    }
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::connect(const DistOptions& options) {
  options.validate();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const auto timeout = to_ms(options.timeout_s);
  const int rank = static_cast<int>(options.rank), size = static_cast<int>(options.world_size);
  std::string device_host = "127.0.0.1";
  if (options.url.rfind("file://", 0) == 0) {
    const std::string path = options.url.substr(7);
    try {
      impl->store = c10::make_intrusive<c10d::FileStore>(path, size);
      impl->store->setTimeout(timeout);
    } catch (const std::exception& e) {
      throw std::runtime_error("[dist] cannot open the rendezvous file " + path + ": " + e.what());
    }
  } else {
    const TcpAddress a = parse_tcp(options.url);
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(a.port);
    so.isServer = rank == 0;
    so.numWorkers = static_cast<std::size_t>(size);
    so.waitWorkers = false;
    so.timeout = timeout;
    try {
      impl->store = c10::make_intrusive<c10d::TCPStore>(a.host, so);
    } catch (const std::exception& e) {
      if (rank == 0)
        throw std::runtime_error("[dist] rank 0 cannot serve the rendezvous on " + a.host + ":" +
                                 std::to_string(a.port) + " (port in use, or not an address of this machine?): " +
                                 e.what());
      throw std::runtime_error("[dist] rank " + std::to_string(rank) + " cannot reach the master at " + a.host + ":" +
                               std::to_string(a.port) + " within " + std::to_string(static_cast<int64_t>(options.timeout_s)) +
                               " s (train.dist_timeout_s): " + e.what());
    }
    if (!is_loopback(a.host)) device_host.clear();
  }
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
  const std::string ifname = env("GLOO_SOCKET_IFNAME");
  try {
    if (!ifname.empty())
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (!device_host.empty())
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(device_host));
    else
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    gloo_options->threads = 2;
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, rank, size, gloo_options);
  } catch (const std::exception& e) {
    throw std::runtime_error("[dist] rank " + std::to_string(rank) + " could not connect to its " +
                             std::to_string(size - 1) + " peer(s) within " +
                             std::to_string(static_cast<int64_t>(options.timeout_s)) +
                             " s (train.dist_timeout_s; are all ranks started?): " + e.what());
  }
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

int64_t ProcessGroup::rank() const { return impl_->options.rank; }
int64_t ProcessGroup::world_size() const { return impl_->options.world_size; }
int64_t ProcessGroup::local_world_size() const { return impl_->options.local_world_size; }
double ProcessGroup::timeout_s() const { return impl_->options.timeout_s; }
const std::string& ProcessGroup::url() const { return impl_->options.url; }

void ProcessGroup::allreduce_sum(std::vector<torch::Tensor>& tensors) {
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  works.reserve(tensors.size());
  for (auto& t : tensors) {
    TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(), "allreduce_sum needs contiguous CPU tensors");
    std::vector<torch::Tensor> one{t};
    works.push_back(impl_->group->allreduce(one));
  }
  for (const auto& w : works) impl_->wait(w, "an all-reduce");
}

void ProcessGroup::broadcast(torch::Tensor& tensor, int64_t root) {
  TORCH_CHECK(tensor.is_contiguous() && tensor.device().is_cpu(), "broadcast needs a contiguous CPU tensor");
  std::vector<torch::Tensor> one{tensor};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  impl_->wait(impl_->group->broadcast(one, o), "a broadcast");
}

std::vector<torch::Tensor> ProcessGroup::allgather(const torch::Tensor& tensor) {
  TORCH_CHECK(tensor.is_contiguous() && tensor.device().is_cpu(), "allgather needs a contiguous CPU tensor");
  std::vector<torch::Tensor> input{tensor};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int64_t r = 0; r < world_size(); ++r) output[0].push_back(torch::empty_like(tensor));
  impl_->wait(impl_->group->allgather(output, input), "an all-gather");
  return output[0];
}

bool ProcessGroup::any(bool flag) {
  std::vector<torch::Tensor> t{torch::full({1}, flag ? 1.0 : 0.0, torch::kDouble)};
  allreduce_sum(t);
  return t[0].item<double>() > 0;
}

void ProcessGroup::store_set(const std::string& key, const std::string& value) {
  impl_->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
}

std::string ProcessGroup::store_get(const std::string& key) {
  try {
    const std::vector<uint8_t> v = impl_->store->get(key);
    return std::string(v.begin(), v.end());
  } catch (const std::exception& e) {
    throw std::runtime_error("[dist] " + impl_->where() + ": \"" + key + "\" did not arrive from rank 0 within " +
                             std::to_string(static_cast<int64_t>(impl_->options.timeout_s)) + " s: " + e.what());
  }
}

bool ProcessGroup::store_has(const std::string& key) { return impl_->store->check({key}); }

GradientReducer::GradientReducer(std::vector<torch::Tensor> params, int64_t bucket_bytes) : params_(std::move(params)) {
  if (bucket_bytes < 4) throw std::invalid_argument("GradientReducer: bucket_bytes must be >= 4");
  const int64_t cap = bucket_bytes / 4;
  std::vector<int64_t> sizes;
  for (const auto& p : params_) {
    if (p.scalar_type() != torch::kFloat || !p.device().is_cpu())
      throw std::invalid_argument("GradientReducer: parameters must be float32 CPU tensors");
    if (sizes.empty() || (sizes.back() > 0 && sizes.back() + p.numel() > cap)) sizes.push_back(0);
    slots_.push_back({sizes.size() - 1, sizes.back(), p.numel()});
    sizes.back() += p.numel();
  }
  for (int64_t n : sizes) buckets_.push_back(torch::zeros({n}, torch::kFloat));
}

std::vector<double> GradientReducer::reduce(ProcessGroup& group, const std::vector<double>& values) {
  const auto start = Clock::now();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Slot& s = slots_[i];
    auto dst = buckets_[s.bucket].narrow(0, s.offset, s.numel);
    const auto& g = params_[i].grad();
    if (g.defined())
      dst.copy_(g.reshape({-1}));
    else
      dst.zero_();
  }
  // The caller's values, then one flag per parameter: whether this rank has its gradient.
  auto sums = torch::empty({static_cast<int64_t>(values.size() + params_.size())}, torch::kDouble);
  double* v = sums.data_ptr<double>();
  for (std::size_t i = 0; i < values.size(); ++i) v[i] = values[i];
  for (std::size_t i = 0; i < params_.size(); ++i) v[values.size() + i] = params_[i].grad().defined() ? 1.0 : 0.0;
  std::vector<torch::Tensor> all = buckets_;
  all.push_back(sums);
  group.allreduce_sum(all);
  any_grad_.assign(params_.size(), false);
  for (std::size_t i = 0; i < params_.size(); ++i) any_grad_[i] = v[values.size() + i] > 0;
  last_seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
  return std::vector<double>(v, v + values.size());
}

void GradientReducer::scale_into_grads(double factor) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Slot& s = slots_[i];
    auto& g = params_[i].mutable_grad();
    if (i < any_grad_.size() && !any_grad_[i]) {  // no rank used the parameter: no gradient, as in one process
      g.reset();
      continue;
    }
    auto src = buckets_[s.bucket].narrow(0, s.offset, s.numel).view(params_[i].sizes());
    if (!g.defined()) g = torch::empty_like(params_[i]);
    torch::mul_out(g, src, factor);
  }
}

uint64_t tensors_hash(const std::vector<torch::Tensor>& tensors) {
  uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (const auto& t : tensors) {
    TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(), "tensors_hash needs contiguous CPU tensors");
    const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
    const std::size_t n = t.numel() * t.element_size();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, bytes + i, 8);
      h = (h ^ w) * 0x100000001B3ULL;
      h ^= h >> 29;
    }
    for (; i < n; ++i) h = (h ^ bytes[i]) * 0x100000001B3ULL;
    h = (h ^ n) * 0xBF58476D1CE4E5B9ULL;  // length, so that the split between tensors matters
  }
  return h;
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace nmt::train
