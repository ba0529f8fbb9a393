#include "models/attention.h"

#include <torch/torch.h>

#include "common/cpu_kernels.h"

namespace nmt::models {

namespace {

bool use_kernels(const torch::Tensor& a, const torch::Tensor& b) {
  return a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == torch::kFloat &&
         b.scalar_type() == torch::kFloat;
}

void check_batched(const torch::Tensor& a, const torch::Tensor& b, int64_t a_inner, int64_t b_inner, const char* what) {
  TORCH_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(a_inner) == b.size(b_inner), what,
              ": shapes ", a.sizes(), " and ", b.sizes(), " do not multiply");
}

enum class Layout { kNN, kNT, kTN };

/// out = op(a) · op(b) for contiguous float CPU tensors, Layout as in common::kernels::matmul_*.
torch::Tensor run_kernel(Layout layout, const torch::Tensor& a_in, const torch::Tensor& b_in) {
  const auto a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t batch = a.size(0);
  if (layout == Layout::kNN) {
    auto out = torch::empty({batch, a.size(1), b.size(2)}, a.options());
    common::kernels::matmul_nn(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), batch, a.size(1),
                               a.size(2), b.size(2));
    return out;
  }
  if (layout == Layout::kNT) {
    auto out = torch::empty({batch, a.size(1), b.size(1)}, a.options());
    common::kernels::matmul_nt(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), batch, a.size(1),
                               a.size(2), b.size(1));
    return out;
  }
  auto out = torch::empty({batch, a.size(2), b.size(2)}, a.options());
  common::kernels::matmul_tn(a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), batch, a.size(1),
                             a.size(2), b.size(2));
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
    common::kernels::additive_tanh(q.data_ptr<float>(), k.data_ptr<float>(), out.data_ptr<float>(), q.size(0),
                                   q.size(1), k.size(1), q.size(2));
    ctx->save_for_backward({out});
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto d = at::tanh_backward(grad[0], ctx->get_saved_variables()[0]);  // [B, Q, K, H]
    return {d.sum(2), d.sum(1)};
  }
};

}  // namespace

torch::Tensor additive_features(const torch::Tensor& queries, const torch::Tensor& keys) {
  TORCH_CHECK(queries.dim() == 3 && keys.dim() == 3 && queries.size(0) == keys.size(0) &&
                  queries.size(2) == keys.size(2),
              "additive_features: queries ", queries.sizes(), " and keys ", keys.sizes(), " do not match");
  if (!use_kernels(queries, keys)) return torch::tanh(queries.unsqueeze(2) + keys.unsqueeze(1));
  return AdditiveTanh::apply(queries, keys);
}

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  check_batched(a, b, 2, 1, "batched_matmul");
  if (!use_kernels(a, b)) return torch::bmm(a, b);
  return BatchedMatmul::apply(a, b, false);
}

torch::Tensor batched_matmul_nt(const torch::Tensor& a, const torch::Tensor& b) {
  check_batched(a, b, 2, 2, "batched_matmul_nt");
  if (!use_kernels(a, b)) return torch::bmm(a, b.transpose(1, 2));
  return BatchedMatmul::apply(a, b, true);
}

torch::Tensor sequence_mask(const torch::Tensor& valid_lens, int64_t steps) {
  auto positions = torch::arange(steps, valid_lens.options().dtype(torch::kLong));
  return positions.unsqueeze(0) < valid_lens.to(torch::kLong).unsqueeze(1);
}

torch::Tensor masked_softmax(const torch::Tensor& scores, const torch::Tensor& valid_lens) {
  TORCH_CHECK(scores.dim() == 3, "masked_softmax: scores must be [batch, queries, keys], got ", scores.sizes());
  if (!valid_lens.defined()) return torch::softmax(scores, -1);
  const int64_t batch = scores.size(0), queries = scores.size(1), keys = scores.size(2);
  torch::Tensor lens;
  if (valid_lens.dim() == 1) {
    TORCH_CHECK(valid_lens.size(0) == batch, "masked_softmax: valid_lens [", valid_lens.size(0), "] vs batch ", batch);
    lens = valid_lens.unsqueeze(1).expand({batch, queries});
  } else {
    TORCH_CHECK(valid_lens.dim() == 2 && valid_lens.size(0) == batch && valid_lens.size(1) == queries,
                "masked_softmax: valid_lens must be [batch] or [batch, queries], got ", valid_lens.sizes());
    lens = valid_lens;
  }
  auto mask = sequence_mask(lens.reshape({-1}), keys).reshape({batch, queries, keys});
  return torch::softmax(scores.masked_fill(mask.logical_not(), -1e6), -1);
}

AdditiveAttentionImpl::AdditiveAttentionImpl(const AdditiveAttentionOptions& o) {
  W_k = register_module("W_k", torch::nn::Linear(torch::nn::LinearOptions(o.key_size, o.num_hiddens).bias(false)));
  W_q = register_module("W_q", torch::nn::Linear(torch::nn::LinearOptions(o.query_size, o.num_hiddens).bias(false)));
  w_v = register_module("w_v", torch::nn::Linear(torch::nn::LinearOptions(o.num_hiddens, 1).bias(false)));
  dropout_ = register_module("dropout", Dropout(o.dropout));
}

torch::Tensor AdditiveAttentionImpl::project_keys(const torch::Tensor& keys) { return W_k->forward(keys); }

torch::Tensor AdditiveAttentionImpl::forward(const torch::Tensor& queries, const torch::Tensor& projected_keys,
                                             const torch::Tensor& values, const torch::Tensor& valid_lens,
                                             torch::Tensor* weights) {
  auto q = W_q->forward(queries);                                             // [B, Q, H]
  auto features = additive_features(q, projected_keys);                       // [B, Q, K, H]
  auto scores = w_v->forward(features).squeeze(-1);                           // [B, Q, K]
  auto attention = masked_softmax(scores, valid_lens);
  if (weights) *weights = attention;
  return batched_matmul(dropout_->forward(attention), values);
}

}  // namespace nmt::models
