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

torch::Tensor vocab_projection(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(features.dim() >= 1 && weight.dim() == 2 && features.size(-1) == weight.size(1) && bias.dim() == 1 &&
                  bias.size(0) == weight.size(0),
              "vocab_projection: features ", features.sizes(), ", weight ", weight.sizes(), " and bias ", bias.sizes(),
              " do not match");
  auto sizes = features.sizes().vec();
  sizes.back() = weight.size(0);
  return torch::mm(features.reshape({-1, features.size(-1)}), weight.t()).add_(bias).view(sizes);
}

torch::Tensor Seq2SeqModelImpl::project(const torch::Tensor& features) {
  const auto [weight, bias] = output_layer();
  return vocab_projection(features, weight, bias);
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
