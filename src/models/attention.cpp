#include "models/attention.h"

#include <torch/torch.h>

namespace nmt::models {

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
  auto features = torch::tanh(q.unsqueeze(2) + projected_keys.unsqueeze(1));  // [B, Q, K, H]
  auto scores = w_v->forward(features).squeeze(-1);                           // [B, Q, K]
  auto attention = masked_softmax(scores, valid_lens);
  if (weights) *weights = attention;
  return torch::bmm(dropout_->forward(attention), values);
}

}  // namespace nmt::models
