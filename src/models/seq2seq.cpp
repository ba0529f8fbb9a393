#include "models/seq2seq.h"

#include <torch/torch.h>

namespace nmt::models {

void AttentionRecord::add(const std::string& kind, std::size_t layer, torch::Tensor chunk) {
  auto& layers = weights[kind];
  if (layers.size() <= layer) layers.resize(layer + 1);
  layers[layer].push_back(chunk.detach().to(torch::kCPU));
}

void DecoderState::select(const torch::Tensor& index) {
  auto pick = [&](torch::Tensor& t, int64_t dim) {
    if (t.defined()) t = t.index_select(dim, index.to(t.device()));
  };
  pick(enc_outputs, 0);
  pick(enc_valid_lens, 0);
  pick(hidden, 1);
  pick(context, 0);
  pick(enc_keys, 0);
  for (auto* list : {&self_keys, &self_values, &cross_keys, &cross_values})
    for (auto& t : *list) pick(t, 0);
}

torch::Tensor Seq2SeqModelImpl::project(const torch::Tensor& features) {
  const auto [weight, bias] = output_layer();
  return ops::vocab_projection(features, weight, bias);
}

torch::Tensor Seq2SeqModelImpl::step(const torch::Tensor& tgt, DecoderState& state) {
  return project(decode_features(tgt, state));
}

torch::Tensor Seq2SeqModelImpl::forward_features(const torch::Tensor& src, const torch::Tensor& src_valid_lens,
                                                 const torch::Tensor& tgt) {
  DecoderState state = init_state(encode(src, src_valid_lens));
  return decode_features(tgt, state);
}

torch::Tensor Seq2SeqModelImpl::forward(const torch::Tensor& src, const torch::Tensor& src_valid_lens,
                                        const torch::Tensor& tgt) {
  return project(forward_features(src, src_valid_lens, tgt));
}

}  // namespace nmt::models
