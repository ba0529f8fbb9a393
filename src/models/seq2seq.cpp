#include "models/seq2seq.h"

#include <torch/torch.h>

namespace nmt::models {

void AttentionWeights::set(const std::string& kind, std::size_t layer, const torch::Tensor& weights) {
  auto& list = layers[kind];
  if (list.size() <= layer) list.resize(layer + 1);
  list[layer] = weights.detach();
}

torch::Tensor AttentionWeights::stacked(const std::string& kind) const { return torch::stack(layers.at(kind), 1); }

torch::Tensor Seq2SeqModelImpl::project(const torch::Tensor& features) {
  const auto [weight, bias] = output_layer();
  return ops::vocab_projection(features, weight, bias);
}

torch::Tensor Seq2SeqModelImpl::step(const torch::Tensor& tgt, DecoderState& state, AttentionWeights* attention) {
  return project(decode_features(tgt, state, attention));
}

torch::Tensor Seq2SeqModelImpl::forward_features(const torch::Tensor& src, const torch::Tensor& src_valid_lens,
                                                 const torch::Tensor& tgt) {
  auto state = init_state(encode(src, src_valid_lens));
  return decode_features(tgt, *state);
}

torch::Tensor Seq2SeqModelImpl::forward(const torch::Tensor& src, const torch::Tensor& src_valid_lens,
                                        const torch::Tensor& tgt) {
  return project(forward_features(src, src_valid_lens, tgt));
}

}  // namespace nmt::models
