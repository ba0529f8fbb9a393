#include "ops/attention_ops.h"

#include <torch/torch.h>

#include "kernels/kernels.h"
#include "ops/dispatch.h"

namespace nmt::ops {

namespace {

void check_batched(const torch::Tensor& a, const torch::Tensor& b, int64_t a_inner, int64_t b_inner, const char* what) {
  TORCH_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(a_inner) == b.size(b_inner), what,
              ": shapes ", a.sizes(), " and ", b.sizes(), " do not multiply");
}

enum class Layout { kNN, kNT, kTN };

/// out = op(a) · op(b) for contiguous float CPU tensors, Layout as in kernels::matmul_*.
torch::Tensor run_kernel(Layout layout, const torch::Tensor& a_in, const torch::Tensor& b_in) {
  const auto a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t batch = a.size(0);
  if (layout == Layout::kNN) {
    auto out = torch::empty({batch, a.size(1), b.size(2)}, a.options());
    kernels::matmul_nn(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), batch, a.size(1), a.size(2),
                       b.size(2));
    return out;
  }
  if (layout == Layout::kNT) {
    auto out = torch::empty({batch, a.size(1), b.size(1)}, a.options());
    kernels::matmul_nt(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), batch, a.size(1), a.size(2),
                       b.size(1));
    return out;
  }
  auto out = torch::empty({batch, a.size(2), b.size(2)}, a.options());
  kernels::matmul_tn(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), batch, a.size(1), a.size(2),
                     b.size(2));
  return out;
}

/// C = A·B (transpose_b false) or A·Bᵀ (true).
/// A·B:  dA = dC·Bᵀ (nt), dB = Aᵀ·dC (tn).   A·Bᵀ: dA = dC·B (nn), dB = dCᵀ·A (tn).
struct BatchedMatmul : public torch::autograd::Function<BatchedMatmul> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b,
                               bool transpose_b) {
    ctx->save_for_backward({a, b});
    ctx->saved_data["transpose_b"] = transpose_b;
    return run_kernel(transpose_b ? Layout::kNT : Layout::kNN, a, b);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto &a = saved[0], &b = saved[1], &dc = grad[0];
    if (ctx->saved_data["transpose_b"].toBool())
      return {run_kernel(Layout::kNN, dc, b), run_kernel(Layout::kTN, dc, a), torch::Tensor()};
    return {run_kernel(Layout::kNT, dc, b), run_kernel(Layout::kTN, a, dc), torch::Tensor()};
  }
};

/// y = tanh(q[:, :, None] + k[:, None]); dq = Σ_j g·(1 − y²), dk = Σ_i g·(1 − y²).
struct AdditiveTanh : public torch::autograd::Function<AdditiveTanh> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& k_in) {
    const auto q = q_in.contiguous(), k = k_in.contiguous();
    auto out = torch::empty({q.size(0), q.size(1), k.size(1), q.size(2)}, q.options());
    kernels::additive_tanh(q.data_ptr<float>(), k.data_ptr<float>(), out.data_ptr<float>(), q.size(0), q.size(1),
                           k.size(1), q.size(2));
    ctx->save_for_backward({out});
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto d = at::tanh_backward(grad[0], ctx->get_saved_variables()[0]);  // [B, Q, K, H]
    return {d.sum(2), d.sum(1)};
  }
};

/// d2l's masked softmax of scale · scores in one pass per row (kernels::masked_softmax_rows); backward
/// from the saved output. `row_lens` `[rows]` int64, or empty for no mask.
struct MaskedSoftmax : public torch::autograd::Function<MaskedSoftmax> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& scores_in,
                               const torch::Tensor& row_lens, double scale) {
    const auto scores = scores_in.contiguous();
    const int64_t n = scores.size(-1), rows = n == 0 ? 0 : scores.numel() / n;
    auto out = torch::empty_like(scores);
    const auto lens = row_lens.contiguous();
    kernels::masked_softmax_rows(scores.data_ptr<float>(), lengths(lens), out.data_ptr<float>(), rows, n,
                                 static_cast<float>(scale));
    ctx->save_for_backward({out});
    ctx->saved_data["lens"] = lens;
    ctx->saved_data["scale"] = scale;
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto y = ctx->get_saved_variables()[0];
    const auto g = grad[0].contiguous();
    const auto lens = ctx->saved_data["lens"].toTensor();
    const int64_t n = y.size(-1), rows = n == 0 ? 0 : y.numel() / n;
    auto out = torch::empty_like(y);
    kernels::masked_softmax_backward_rows(y.data_ptr<float>(), g.data_ptr<float>(), lengths(lens),
                                          out.data_ptr<float>(), rows, n,
                                          static_cast<float>(ctx->saved_data["scale"].toDouble()));
    return {out, torch::Tensor(), torch::Tensor()};
  }

  /// The kernels' per-row lengths: null (no mask) for an empty tensor.
  static const int64_t* lengths(const torch::Tensor& row_lens) {
    return row_lens.numel() == 0 ? nullptr : row_lens.data_ptr<int64_t>();
  }
};

}  // namespace

torch::Tensor additive_features(const torch::Tensor& queries, const torch::Tensor& keys) {
  TORCH_CHECK(queries.dim() == 3 && keys.dim() == 3 && queries.size(0) == keys.size(0) &&
                  queries.size(2) == keys.size(2),
              "additive_features: queries ", queries.sizes(), " and keys ", keys.sizes(), " do not match");
  if (!use_fused({queries, keys})) return torch::tanh(queries.unsqueeze(2) + keys.unsqueeze(1));
  return AdditiveTanh::apply(queries, keys);
}

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  check_batched(a, b, 2, 1, "batched_matmul");
  if (!use_fused({a, b})) return torch::bmm(a, b);
  return BatchedMatmul::apply(a, b, false);
}

torch::Tensor batched_matmul_nt(const torch::Tensor& a, const torch::Tensor& b) {
  check_batched(a, b, 2, 2, "batched_matmul_nt");
  if (!use_fused({a, b})) return torch::bmm(a, b.transpose(1, 2));
  return BatchedMatmul::apply(a, b, true);
}

torch::Tensor sequence_mask(const torch::Tensor& valid_lens, int64_t steps) {
  auto positions = torch::arange(steps, valid_lens.options().dtype(torch::kLong));
  return positions.unsqueeze(0) < valid_lens.to(torch::kLong).unsqueeze(1);
}

torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& valid_lens, double scale, int64_t group) {
  TORCH_CHECK(scores.dim() == 3, "masked_softmax: scores must be [batch, queries, keys], got ", scores.sizes());
  TORCH_CHECK(group >= 1 && scores.size(0) % group == 0, "masked_softmax: group ", group,
              " must be positive and divide the batch ", scores.size(0));
  const int64_t batch = scores.size(0), queries = scores.size(1), keys = scores.size(2), lens_batch = batch / group;
  torch::Tensor lens;  // [batch / group, queries] int64 on the CPU when the kernel runs
  if (valid_lens.defined()) {
    if (valid_lens.dim() == 1) {
      TORCH_CHECK(valid_lens.size(0) == lens_batch, "masked_softmax: valid_lens [", valid_lens.size(0), "] vs batch ",
                  lens_batch);
      lens = valid_lens.unsqueeze(1).expand({lens_batch, queries});
    } else {
      TORCH_CHECK(valid_lens.dim() == 2 && valid_lens.size(0) == lens_batch && valid_lens.size(1) == queries,
                  "masked_softmax: valid_lens must be [", lens_batch, "] or [", lens_batch, ", ", queries, "], got ",
                  valid_lens.sizes());
      lens = valid_lens;
    }
  }
  if (!use_fused({scores})) {
    const auto wide = widen_reduced(scores);  // the softmax of bf16/fp16 scores runs in float32
    auto scaled = scale == 1.0 ? wide : wide * scale;
    if (!lens.defined()) return torch::softmax(scaled, -1);
    lens = lens.to(scores.device()).repeat_interleave(group, 0);
    auto mask = sequence_mask(lens.reshape({-1}), keys).reshape({batch, queries, keys});
    return torch::softmax(scaled.masked_fill(mask.logical_not(), -1e6), -1);
  }
  // [batch * queries]: row (b·group + g, q) reads lens[b, q]; empty without a mask.
  const auto row_lens =
      lens.defined() ? lens.to(torch::kCPU, torch::kLong).unsqueeze(1).expand({lens_batch, group, queries}).reshape({-1})
                     : torch::empty({0}, torch::kLong);
  return MaskedSoftmax::apply(scores, row_lens, scale);
}

}  // namespace nmt::ops
