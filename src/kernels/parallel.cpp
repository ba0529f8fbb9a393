#include "kernels/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace nmt::kernels {

namespace {

/// Workers wait for a new generation of work; worker w runs part w + 1 of it when the call has that many parts.
/// The caller publishes the job under `mutex_`, wakes everyone, runs part 0 and waits until `pending_` workers
/// have reported back. `busy_` lets one call at a time use the workers.
class WorkerPool {
 public:
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  void run(int64_t parts, const std::function<void(int64_t)>& part) noexcept {
    if (parts <= 0) return;
    bool idle = false;
    if (parts == 1 || !busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
      for (int64_t i = 0; i < parts; ++i) part(i);  // nothing to share, or the workers are taken: all parts here
      return;
    }
    const int64_t helpers = grow(parts - 1);  // workers 0 .. helpers-1 run parts 1 .. helpers
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &part;
      parts_ = helpers + 1;
      pending_ = helpers;
      ++generation_;
    }
    if (helpers > 0) wake_.notify_all();
    part(0);
    for (int64_t i = helpers + 1; i < parts; ++i) part(i);  // workers that could not be started
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    busy_.store(false, std::memory_order_release);
  }

  int workers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(workers_.size());
  }

 private:
  /// Starts workers until there are `wanted` (or a thread cannot be started); returns how many there are, at most
  /// `wanted`. Called with `busy_` set, so no job is running.
  int64_t grow(int64_t wanted) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (static_cast<int64_t>(workers_.size()) < wanted) {
      const auto index = static_cast<int64_t>(workers_.size());
      try {
        workers_.emplace_back([this, index, start = generation_] { work(index, start); });
      } catch (const std::system_error&) {
        break;
      }
    }
    return std::min<int64_t>(wanted, static_cast<int64_t>(workers_.size()));
  }

  /// Worker `index`'s loop; `seen` is the generation current when it was started (it waits for the next one).
  void work(int64_t index, uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index + 1 >= parts_) continue;  // not needed this time
      const auto* job = job_;
      lock.unlock();
      (*job)(index + 1);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::atomic<bool> busy_{false};  // a call is using the workers (a flag, not a mutex: nested calls test it too)
  std::mutex mutex_;  // guards everything below
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t parts_ = 0;
  int64_t pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

WorkerPool& pool() {
  static WorkerPool instance;
  return instance;
}

}  // namespace

void parallel_parts(int64_t parts, const std::function<void(int64_t)>& part) noexcept { pool().run(parts, part); }

void parallel_range(int64_t n, int threads, int64_t grain,
                    const std::function<void(int64_t part, int64_t begin, int64_t end)>& range) {
  if (n <= 0) return;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n / std::max<int64_t>(grain, 1)));
  parallel_parts(parts, [&](int64_t part) { range(part, n * part / parts, n * (part + 1) / parts); });
}

int pool_workers() { return pool().workers(); }

}  // namespace nmt::kernels
