#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "kernels/parallel.h"

TEST_CASE("parallel_range splits ranges as before and the pool keeps its threads", "[kernels]") {
  SECTION("ranges [n·p/parts, n·(p+1)/parts), parts = min(threads, n / grain), each exactly once") {
    for (const int64_t n : {0, 1, 5, 100, 1001}) {
      for (const int threads : {1, 2, 3, 7}) {
        std::mutex mutex;
        std::vector<std::array<int64_t, 3>> seen;
        nmt::kernels::parallel_range(n, threads, 10, [&](int64_t part, int64_t begin, int64_t end) {
          std::lock_guard<std::mutex> lock(mutex);
          seen.push_back({part, begin, end});
        });
        const int64_t parts = n <= 0 ? 0 : std::max<int64_t>(1, std::min<int64_t>(threads, n / 10));
        INFO("n " << n << ", threads " << threads);
        REQUIRE(static_cast<int64_t>(seen.size()) == parts);
        std::sort(seen.begin(), seen.end());
        for (int64_t p = 0; p < parts; ++p) {
          CHECK(seen[static_cast<std::size_t>(p)][0] == p);
          CHECK(seen[static_cast<std::size_t>(p)][1] == n * p / parts);
          CHECK(seen[static_cast<std::size_t>(p)][2] == n * (p + 1) / parts);
        }
      }
    }
  }
  SECTION("part 0 runs on the caller, the others on pool threads that stay the same across calls") {
    const auto caller = std::this_thread::get_id();
    std::set<std::thread::id> first, second;
    std::mutex mutex;
    bool part0_on_caller = true;  // Catch2 assertions stay on the test's thread
    auto record = [&](std::set<std::thread::id>& ids) {
      nmt::kernels::parallel_parts(3, [&](int64_t part) {
        std::lock_guard<std::mutex> lock(mutex);
        if (part == 0 && std::this_thread::get_id() != caller) part0_on_caller = false;
        ids.insert(std::this_thread::get_id());
      });
    };
    record(first);
    const int workers = nmt::kernels::pool_workers();
    for (int i = 0; i < 100; ++i) nmt::kernels::parallel_parts(3, [](int64_t) {});
    record(second);
    CHECK(part0_on_caller);
    CHECK(first.size() == 3);
    CHECK(first == second);  // the same threads: none started per call
    CHECK(workers >= 2);
    CHECK(nmt::kernels::pool_workers() == workers);
  }
  SECTION("a call from inside a part runs its parts on that thread; concurrent callers all finish") {
    std::atomic<int> inner{0}, elsewhere{0};
    nmt::kernels::parallel_parts(2, [&](int64_t) {
      const auto here = std::this_thread::get_id();
      nmt::kernels::parallel_parts(3, [&](int64_t) {
        if (std::this_thread::get_id() != here) ++elsewhere;
        ++inner;
      });
    });
    CHECK(inner == 6);
    CHECK(elsewhere == 0);
    std::atomic<int64_t> total{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c)
      callers.emplace_back([&] {
        for (int i = 0; i < 50; ++i)
          nmt::kernels::parallel_range(1000, 3, 1, [&](int64_t, int64_t b, int64_t e) { total += e - b; });
      });
    for (auto& t : callers) t.join();
    CHECK(total == 4 * 50 * 1000);
  }
}
