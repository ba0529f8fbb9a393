#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_isa.h"
#include "kernels/kernels.h"

namespace {

/// argmax_v (x[r] · w[v] + b[v]) in double precision, the first maximum on ties.
int64_t reference_argmax(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                         int64_t r, int64_t k, int64_t vocab) {
  int64_t best = 0;
  double best_value = -std::numeric_limits<double>::infinity();
  for (int64_t v = 0; v < vocab; ++v) {
    double s = 0;
    for (int64_t c = 0; c < k; ++c) s += static_cast<double>(x[r * k + c]) * w[v * k + c];
    s += b[v];
    if (s > best_value) best_value = s, best = v;
  }
  return best;
}

}  // namespace

TEST_CASE("projected_argmax is the arg-max of the output layer's logits", "[kernels]") {
  const auto isa = GENERATE(Catch::Generators::from_range(nmt::kernels::supported_isas()));
  nmt::kernels::ScopedIsa force(isa);
  INFO("isa " << nmt::kernels::isa_name(isa));
  std::mt19937 gen(7);
  std::normal_distribution<float> normal;
  auto fill = [&](std::vector<float>& v) {
    for (auto& e : v) e = normal(gen);
  };
  SECTION("random shapes around the 16-row tiles, the 8-word register block and the vocabulary blocks (512 words at k 256)") {
    const int64_t k = GENERATE(1, 5, 32, 33, 256);
    const int64_t vocab = GENERATE(1, 7, 8, 100, 2000);
    const int64_t rows = GENERATE(1, 15, 16, 17, 40);
    const int threads = GENERATE(1, 3);  // 256 x 2000 x 40 passes the 2^24 multiply-adds that start threads
    std::vector<float> x(static_cast<std::size_t>(rows * k)), w(static_cast<std::size_t>(vocab * k)),
        b(static_cast<std::size_t>(vocab));
    fill(x), fill(w), fill(b);
    std::vector<int64_t> out(static_cast<std::size_t>(rows), -1);
    nmt::kernels::projected_argmax(x.data(), w.data(), b.data(), rows, k, vocab, out.data(), threads);
    for (int64_t r = 0; r < rows; ++r) {
      INFO("k " << k << ", vocab " << vocab << ", row " << r << ", threads " << threads);
      CHECK(out[static_cast<std::size_t>(r)] == reference_argmax(x, w, b, r, k, vocab));
    }
  }
  SECTION("ties go to the first word; NaN logits are skipped; all-NaN rows give 0") {
    const int64_t k = 4, vocab = 40;
    std::vector<float> x(2 * k), w(vocab * k, 0.0f), b(vocab, 0.0f);
    fill(x);
    b[9] = b[17] = b[33] = 5.0f;  // every logit is the bias: three equal maxima
    std::vector<int64_t> out(2, -1);
    nmt::kernels::projected_argmax(x.data(), w.data(), b.data(), 2, k, vocab, out.data());
    CHECK(out == std::vector<int64_t>{9, 9});
    w[9 * k + 2] = std::nanf("");                                  // word 9's logit is NaN in every row
    for (int64_t c = 0; c < k; ++c) x[1 * k + c] = std::nanf("");  // row 1: every logit NaN
    nmt::kernels::projected_argmax(x.data(), w.data(), b.data(), 2, k, vocab, out.data());
    CHECK(out == std::vector<int64_t>{17, 0});
  }
  SECTION("threads split the vocabulary and keep the first maximum across their parts") {
    const int64_t k = 1024, vocab = 20000;  // 2 x 1024 x 20000 > 2^24 multiply-adds: 3 threads
    std::vector<float> x(2 * k), w(vocab * k, 0.0f), b(vocab, 0.0f);
    fill(x);
    b[100] = b[19000] = 5.0f;  // equal maxima in the first and the last third
    std::vector<int64_t> out(2, -1);
    nmt::kernels::projected_argmax(x.data(), w.data(), b.data(), 2, k, vocab, out.data(), 3);
    CHECK(out == std::vector<int64_t>{100, 100});
    b[19000] = 5.5f;
    nmt::kernels::projected_argmax(x.data(), w.data(), b.data(), 2, k, vocab, out.data(), 3);
    CHECK(out == std::vector<int64_t>{19000, 19000});
  }
  SECTION("more threads than vocabulary blocks: one thread per block, the same arg-max") {
    // 700 x 1024 x 25 > 2^24 multiply-adds: threads start, but 25 words make 2 blocks of 16 for 3 threads.
    const int64_t k = 1024, vocab = 25, rows = 700;
    std::vector<float> x(static_cast<std::size_t>(rows * k)), w(static_cast<std::size_t>(vocab * k)),
        b(static_cast<std::size_t>(vocab));
    fill(x), fill(w), fill(b);
    std::vector<int64_t> out(static_cast<std::size_t>(rows), -1);
    nmt::kernels::projected_argmax(x.data(), w.data(), b.data(), rows, k, vocab, out.data(), 3);
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; ++r) wrong += out[static_cast<std::size_t>(r)] != reference_argmax(x, w, b, r, k, vocab);
    CHECK(wrong == 0);
  }
}
