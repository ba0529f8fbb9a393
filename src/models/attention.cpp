#include "models/attention.h"

#include <torch/torch.h>

namespace nmt::models {

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
  auto features = ops::additive_features(q, projected_keys);                       // [B, Q, K, H]
  auto scores = w_v->forward(features).squeeze(-1);                           // [B, Q, K]
  auto attention = ops::masked_softmax(scores, valid_lens);
  if (weights) *weights = attention;
  return ops::batched_matmul(dropout_->forward(attention), values);
}

}  // namespace nmt::models
