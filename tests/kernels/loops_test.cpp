// Every fused loop of kernels/kernels.h, once per instruction-set build the machine supports (generic, AVX2 and
// AVX-512 on an AVX-512 host), against references computed with LibTorch in double precision.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <torch/torch.h>

#include "kernels/cpu_isa.h"
#include "kernels/kernels.h"

namespace {

namespace k = nmt::kernels;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

/// `[n...]` float32 tensor of N(0, scale²) values from a fixed seed.
torch::Tensor randn(torch::IntArrayRef sizes, double scale = 1.0) {
  return (torch::randn(sizes, torch::kDouble) * scale).to(torch::kFloat).contiguous();
}

}  // namespace

TEST_CASE("the fused loops of every supported ISA against LibTorch in double", "[kernels]") {
  const auto isa = GENERATE(Catch::Generators::from_range(k::supported_isas()));
  k::ScopedIsa force(isa);
  INFO("isa " << k::isa_name(isa));
  REQUIRE(k::active_isa() == isa);
  torch::manual_seed(3);

  SECTION("softmax_cross_entropy_row: loss and gradient, with and without bias, with label smoothing") {
    for (const int64_t n : {1, 7, 16, 33, 1000}) {
      const double eps = n == 7 ? 0.0 : 0.1;
      auto logits = randn({n}, 4.0), bias = randn({n});
      const int64_t label = (n * 5) / 7;
      std::vector<float> grad(static_cast<std::size_t>(n));
      for (const bool with_bias : {false, true}) {
        INFO("n " << n << ", bias " << with_bias);
        const float loss = k::softmax_cross_entropy_row(logits.data_ptr<float>(),
                                                        with_bias ? bias.data_ptr<float>() : nullptr, grad.data(), n,
                                                        label, static_cast<float>(eps));
        auto x = (with_bias ? logits + bias : logits).to(torch::kDouble).unsqueeze(0).requires_grad_();
        namespace F = torch::nn::functional;
        auto ref = F::cross_entropy(x, torch::tensor({label}, torch::kLong),
                                    F::CrossEntropyFuncOptions().label_smoothing(eps));
        ref.backward();
        CHECK(std::abs(loss - ref.item<double>()) < 1e-5 * std::max(1.0, ref.item<double>()));
        CHECK(max_abs_diff(torch::from_blob(grad.data(), {1, n}, torch::kFloat), x.grad()) < 1e-6);
      }
    }
  }

  SECTION("masked_softmax_rows and its backward: scaled, per-row lengths, a zero length, a length past n") {
    const int64_t rows = 6, n = 19;
    const float scale = 0.35f;
    auto scores = randn({rows, n}, 3.0), upstream = randn({rows, n});
    const std::vector<int64_t> lens = {19, 1, 0, 7, 25, 16};
    auto out = torch::empty({rows, n}), back = torch::empty({rows, n});
    k::masked_softmax_rows(scores.data_ptr<float>(), lens.data(), out.data_ptr<float>(), rows, n, scale);
    k::masked_softmax_backward_rows(out.data_ptr<float>(), upstream.data_ptr<float>(), lens.data(),
                                    back.data_ptr<float>(), rows, n, scale);
    for (int64_t r = 0; r < rows; ++r) {
      INFO("row " << r);
      const int64_t len = std::min<int64_t>(lens[static_cast<std::size_t>(r)], n);
      if (len == 0) {  // d2l fills every score with -1e6: uniform, and no gradient reaches the scores
        CHECK(max_abs_diff(out[r], torch::full({n}, 1.0 / n, torch::kDouble)) < 1e-7);
        CHECK(back[r].abs().max().item<double>() == 0.0);
        continue;
      }
      auto x = (scores[r].narrow(0, 0, len).to(torch::kDouble) * scale).detach().requires_grad_();
      auto y = torch::softmax(x, 0);
      (y * upstream[r].narrow(0, 0, len).to(torch::kDouble)).sum().backward();
      CHECK(max_abs_diff(out[r].narrow(0, 0, len), y) < 1e-6);
      CHECK(max_abs_diff(back[r].narrow(0, 0, len), x.grad() * scale) < 1e-6);
      if (len < n) {
        CHECK(out[r].narrow(0, len, n - len).abs().max().item<double>() == 0.0);
        CHECK(back[r].narrow(0, len, n - len).abs().max().item<double>() == 0.0);
      }
    }
  }

  SECTION("matmul_nn, matmul_nt, matmul_tn on sizes around the 16-lane sums") {
    for (const int64_t inner : {1, 15, 16, 17, 64}) {
      INFO("inner " << inner);
      const int64_t batch = 3, m = 5, n = 9;
      auto a = randn({batch, m, inner}), b = randn({batch, inner, n}), bt = randn({batch, n, inner});
      auto c = randn({batch, m, n});
      auto out = torch::empty({batch, m, n});
      k::matmul_nn(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), batch, m, inner, n);
      CHECK(max_abs_diff(out, torch::bmm(a.to(torch::kDouble), b.to(torch::kDouble))) < 1e-5);
      k::matmul_nt(a.data_ptr<float>(), bt.data_ptr<float>(), out.data_ptr<float>(), batch, m, inner, n);
      CHECK(max_abs_diff(out, torch::bmm(a.to(torch::kDouble), bt.to(torch::kDouble).transpose(1, 2))) < 1e-5);
      auto tn = torch::empty({batch, inner, n});
      k::matmul_tn(a.data_ptr<float>(), c.data_ptr<float>(), tn.data_ptr<float>(), batch, m, inner, n);
      CHECK(max_abs_diff(tn, torch::bmm(a.to(torch::kDouble).transpose(1, 2), c.to(torch::kDouble))) < 1e-5);
    }
  }

  SECTION("additive_tanh: tanh of the broadcast sum within 3e-7 of LibTorch's in double") {
    const int64_t batch = 2, nq = 3, nk = 5, h = 37;
    auto q = randn({batch, nq, h}, 2.0), keys = randn({batch, nk, h}, 2.0);
    auto out = torch::empty({batch, nq, nk, h});
    k::additive_tanh(q.data_ptr<float>(), keys.data_ptr<float>(), out.data_ptr<float>(), batch, nq, nk, h);
    const auto ref = torch::tanh(q.to(torch::kDouble).unsqueeze(2) + keys.to(torch::kDouble).unsqueeze(1));
    CHECK(max_abs_diff(out, ref) < 3e-7);
  }

  SECTION("additive_tanh: within 3e-7 of std::tanh from -20 to 20 in steps of 1e-4, NaN and infinities") {
    std::vector<float> q;
    for (int i = -200000; i <= 200000; ++i) q.push_back(static_cast<float>(i) * 1e-4f);  // step 1e-4 over [-20, 20]
    for (const float x : {1e-30f, -1e-30f, 0.0f, -0.0f, 1e-7f, 3e-4f, 0.01f, 44.0f, -44.0f, 100.0f})
      q.push_back(x);
    const auto n = static_cast<int64_t>(q.size());
    std::vector<float> zero(q.size(), 0.0f), out(q.size());
    k::additive_tanh(q.data(), zero.data(), out.data(), 1, 1, 1, n);
    double worst = 0;
    for (std::size_t i = 0; i < q.size(); ++i)
      worst = std::max(worst, std::abs(static_cast<double>(out[i]) - std::tanh(static_cast<double>(q[i]))));
    CHECK(worst < 3e-7);
    const float special[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity()};
    const float none[3] = {0.0f, 0.0f, 0.0f};
    float special_out[3];
    k::additive_tanh(special, none, special_out, 1, 1, 1, 3);
    CHECK(std::isnan(special_out[0]));
    CHECK(special_out[1] == 1.0f);
    CHECK(special_out[2] == -1.0f);
  }

  SECTION("adam_update: one step of Kingma & Ba's update with clipping scale and weight decay") {
    const int64_t n = 1037;
    auto param = randn({n}), grad = randn({n}), m = randn({n}, 0.1), v = randn({n}, 0.1).square();
    const double lr = 1e-2, beta1 = 0.9, beta2 = 0.98, eps = 1e-9, scale = 0.7, decay = 0.01;
    const int64_t t = 3;
    const double bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
    // The reference, in double from the same float inputs.
    const auto pd = param.to(torch::kDouble), gd = grad.to(torch::kDouble) * scale + decay * pd;
    const auto md = beta1 * m.to(torch::kDouble) + (1 - beta1) * gd;
    const auto vd = beta2 * v.to(torch::kDouble) + (1 - beta2) * gd * gd;
    const auto ref = pd - (lr / bc1) * md / (vd.sqrt() / std::sqrt(bc2) + eps);
    k::adam_update(param.data_ptr<float>(), grad.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(), n,
                   static_cast<float>(lr / bc1), static_cast<float>(beta1), static_cast<float>(beta2),
                   static_cast<float>(std::sqrt(bc2)), static_cast<float>(eps), static_cast<float>(scale),
                   static_cast<float>(decay));
    CHECK(max_abs_diff(m, md) < 1e-6);
    CHECK(max_abs_diff(v, vd) < 1e-6);
    CHECK(max_abs_diff(param, ref) < 1e-5);
  }

  SECTION("sum_of_squares in double, lengths around the 16 lanes") {
    for (const int64_t n : {0, 1, 15, 16, 17, 100003}) {
      auto x = randn({n});
      CHECK_THAT(k::sum_of_squares(x.data_ptr<float>(), n),
                 Catch::Matchers::WithinRel(x.to(torch::kDouble).square().sum().item<double>(), 1e-12));
    }
  }

  SECTION("dropout_mask: values 0 or 1/keep, the kept fraction near keep, masks depend on seed and index only") {
    const int64_t n = 200000;
    const float keep = 0.9f;
    std::vector<float> mask(n), tail(n - 1000);
    k::dropout_mask(mask.data(), n, 42, 0, keep);
    int64_t kept = 0;
    for (const float x : mask) {
      REQUIRE((x == 0.0f || x == 1.0f / keep));
      kept += x != 0.0f;
    }
    // Binomial(200000, 0.9): standard deviation 134; 6 sigma.
    CHECK(std::abs(static_cast<double>(kept) - 0.9 * n) < 6 * std::sqrt(n * 0.9 * 0.1));
    k::dropout_mask(tail.data(), n - 1000, 42, 1000, keep);  // the same elements from offset 1000
    CHECK(std::equal(tail.begin(), tail.end(), mask.begin() + 1000));
    k::dropout_mask(tail.data(), n - 1000, 43, 1000, keep);  // another seed, another mask
    CHECK_FALSE(std::equal(tail.begin(), tail.end(), mask.begin() + 1000));
  }
}
