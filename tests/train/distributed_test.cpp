// The c10d/Gloo layer: options, environment, collectives and the bucketed gradient reducer, with two ranks as
// two threads of this process (each its own ProcessGroup on one FileStore).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "support/temp_dir.h"
#include "train/distributed.h"

using nmt::train::DistOptions;
using nmt::train::GradientReducer;
using nmt::train::ProcessGroup;

namespace {

/// Runs `body(group)` on ranks 0 and 1, each in its own thread with its own ProcessGroup; rethrows the first
/// failure.
void two_ranks(const nmt::test::TempDir& dir, const std::function<void(ProcessGroup&)>& body) {
  std::exception_ptr errors[2];
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank)
    threads.emplace_back([&, rank] {
      try {
        DistOptions o;
        o.rank = rank, o.world_size = 2, o.url = "file://" + (dir / "store").string(), o.timeout_s = 30;
        auto group = ProcessGroup::connect(o);
        body(*group);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

/// Sets (or, for nullptr, unsets) an environment variable for the life of the object.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    if (value) setenv(name.c_str(), value, 1);
    else unsetenv(name.c_str());
  }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("DistOptions: validation and torchrun's environment", "[distributed]") {
  SECTION("validate") {
    DistOptions o;
    CHECK_NOTHROW(o.validate());  // one process needs no address
    o.world_size = 2, o.rank = 1, o.url = "tcp://10.0.0.1:29500";
    CHECK_NOTHROW(o.validate());
    o.url = "tcp://[::1]:29500";
    CHECK_NOTHROW(o.validate());
    o.url = "file:///tmp/x";
    CHECK_NOTHROW(o.validate());
    o.url = "file://relative";
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("needs an absolute path"));
    o.url = "tcp://host:70000";
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("port 70000 is not in 1..65535"));
    o.url = "tcp://host:x1";
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("is not an integer"));
    o.url = "";
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("needs a rendezvous address"));
    o.url = "tcp://h:1", o.rank = 2;
    CHECK_THROWS_AS(o.validate(), std::invalid_argument);
    o.rank = 0, o.timeout_s = 0;
    CHECK_THROWS_WITH(o.validate(), Catch::Contains("timeout"));
  }
  SECTION("environment") {
    ScopedEnv a("RANK", nullptr), b("WORLD_SIZE", nullptr), c("MASTER_ADDR", nullptr), d("MASTER_PORT", nullptr),
        e("NMT_DIST_URL", nullptr), f("LOCAL_WORLD_SIZE", nullptr);
    CHECK_FALSE(nmt::train::dist_options_from_env().has_value());
    setenv("RANK", "1", 1);
    CHECK_THROWS_WITH(nmt::train::dist_options_from_env(), Catch::Contains("RANK is set but WORLD_SIZE is not"));
    setenv("WORLD_SIZE", "3", 1);
    CHECK_THROWS_WITH(nmt::train::dist_options_from_env(), Catch::Contains("needs the master's address"));
    setenv("MASTER_ADDR", "10.1.2.3", 1);
    CHECK_THROWS_WITH(nmt::train::dist_options_from_env(), Catch::Contains("MASTER_ADDR is set but MASTER_PORT is not"));
    setenv("MASTER_PORT", "29501", 1);
    setenv("LOCAL_WORLD_SIZE", "2", 1);
    auto o = nmt::train::dist_options_from_env();
    REQUIRE(o.has_value());
    CHECK(o->rank == 1);
    CHECK(o->world_size == 3);
    CHECK(o->local_world_size == 2);
    CHECK(o->url == "tcp://10.1.2.3:29501");
    setenv("NMT_DIST_URL", "file:///tmp/s", 1);  // what --nproc gives its workers wins
    CHECK(nmt::train::dist_options_from_env()->url == "file:///tmp/s");
    setenv("WORLD_SIZE", "two", 1);
    CHECK_THROWS_WITH(nmt::train::dist_options_from_env(), Catch::Contains("WORLD_SIZE = \"two\" is not an integer"));
  }
}

TEST_CASE("ProcessGroup: collectives between two ranks", "[distributed]") {
  nmt::test::TempDir dir("dist_group");
  std::vector<torch::Tensor> gathered(2);
  two_ranks(dir, [&](ProcessGroup& g) {
    const double r = static_cast<double>(g.rank());
    std::vector<torch::Tensor> t{torch::full({5}, r + 1, torch::kFloat), torch::full({2}, 10 * r, torch::kDouble)};
    g.allreduce_sum(t);
    CHECK(torch::equal(t[0], torch::full({5}, 3.0f)));
    CHECK(torch::equal(t[1], torch::full({2}, 10.0, torch::kDouble)));
    auto b = torch::arange(4, torch::kFloat) * (r + 1);
    g.broadcast(b, 1);
    CHECK(torch::equal(b, torch::arange(4, torch::kFloat) * 2));
    const auto all = g.allgather(torch::full({3}, static_cast<int64_t>(g.rank()), torch::kLong));
    REQUIRE(all.size() == 2);
    CHECK(all[0].sum().item<int64_t>() == 0);
    CHECK(all[1].sum().item<int64_t>() == 3);
    CHECK(g.any(g.rank() == 1));
    CHECK_FALSE(g.any(false));
    if (g.rank() == 0) g.store_set("k", std::string("a\0b", 3));
    CHECK(g.store_get("k") == std::string("a\0b", 3));
    CHECK(g.store_has("k"));
    CHECK_FALSE(g.store_has("missing"));
  });
}

TEST_CASE("GradientReducer: bucketed sums, the scale after the wait, and parameters no rank used",
          "[distributed]") {
  nmt::test::TempDir dir("dist_reducer");
  const int64_t bucket_bytes = GENERATE(4 * 7, 25 << 20);  // several buckets (a parameter per bucket), or one
  two_ranks(dir, [&](ProcessGroup& g) {
    const double r = static_cast<double>(g.rank());
    std::vector<torch::Tensor> params{torch::zeros({2, 3}), torch::zeros({7}), torch::zeros({4}), torch::zeros({1})};
    // Rank r's gradients: (r + 1) · (index + 1); parameter 2 has one on rank 1 only, parameter 3 on no rank.
    for (std::size_t i = 0; i < 2; ++i)
      params[i].mutable_grad() = torch::arange(params[i].numel(), torch::kFloat).view(params[i].sizes()) * (r + 1);
    if (g.rank() == 1) params[2].mutable_grad() = torch::ones({4});
    GradientReducer reducer(params, bucket_bytes);
    CHECK(reducer.num_buckets() == (bucket_bytes == 28 ? 3 : 1));
    const auto sums = reducer.reduce(g, {r + 1, 0.5});
    REQUIRE(sums.size() == 2);
    CHECK(sums[0] == 3.0);
    CHECK(sums[1] == 1.0);
    reducer.scale_into_grads(1.0 / 3);
    for (std::size_t i = 0; i < 2; ++i)
      CHECK(torch::allclose(params[i].grad(),
                            torch::arange(params[i].numel(), torch::kFloat).view(params[i].sizes()), 1e-6, 1e-6));
    REQUIRE(params[2].grad().defined());
    CHECK(torch::allclose(params[2].grad(), torch::full({4}, 1.0f / 3)));
    CHECK_FALSE(params[3].grad().defined());
    CHECK(reducer.last_seconds() > 0);
  });
  CHECK_THROWS_AS(GradientReducer({torch::zeros({2}, torch::kDouble)}), std::invalid_argument);
}

TEST_CASE("tensors_hash: equal exactly for equal bytes", "[distributed]") {
  const auto a = torch::randn({100});
  auto b = a.clone();
  CHECK(nmt::train::tensors_hash({a}) == nmt::train::tensors_hash({b}));
  b[37] = std::nextafter(b[37].item<float>(), 1e9f);  // one bit of one float
  CHECK(nmt::train::tensors_hash({a}) != nmt::train::tensors_hash({b}));
  // The split between tensors counts: [a0..a49][a50..a99] differs from [a0..a99].
  CHECK(nmt::train::tensors_hash({a.narrow(0, 0, 50).contiguous(), a.narrow(0, 50, 50).contiguous()}) !=
        nmt::train::tensors_hash({a}));
}
