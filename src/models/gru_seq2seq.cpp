#include "models/gru_seq2seq.h"

#include <stdexcept>

#include <torch/torch.h>

namespace nmt::models {
namespace {

torch::nn::GRU make_gru(int64_t input, int64_t hiddens, int64_t layers, double dropout) {
  return torch::nn::GRU(torch::nn::GRUOptions(input, hiddens).num_layers(layers).dropout(layers > 1 ? dropout : 0.0));
}

}  // namespace

void GruDecoderState::select(const torch::Tensor& index) {
  auto pick = [&](torch::Tensor& t, int64_t dim) {
    if (t.defined()) t = t.index_select(dim, index.to(t.device()));
  };
  pick(hidden, 1);
  pick(enc_valid_lens, 0);
  pick(context, 0);
  pick(enc_outputs, 0);
  pick(enc_keys, 0);
}

GruEncoderImpl::GruEncoderImpl(int64_t vocab_size, int64_t embed_size, int64_t num_hiddens, int64_t num_layers,
                               double dropout) {
  embedding = register_module("embedding", torch::nn::Embedding(vocab_size, embed_size));
  rnn = register_module("rnn", make_gru(embed_size, num_hiddens, num_layers, dropout));
}

EncoderOutput GruEncoderImpl::forward(const torch::Tensor& src, const torch::Tensor& valid_lens) {
  TORCH_CHECK(src.dim() == 2, "encoder input must be [batch, steps], got ", src.sizes());
  const int64_t steps = src.size(1);
  auto embedded = embedding->forward(src).transpose(0, 1);  // [steps, batch, embed]
  auto lengths = valid_lens.to(torch::kCPU, torch::kLong).clamp(1, steps);
  auto packed = torch::nn::utils::rnn::pack_padded_sequence(embedded, lengths, /*batch_first=*/false,
                                                            /*enforce_sorted=*/false);
  auto [packed_out, state] = rnn->forward_with_packed_input(packed);
  auto [outputs, out_lens] = torch::nn::utils::rnn::pad_packed_sequence(packed_out, /*batch_first=*/true,
                                                                        /*padding_value=*/0.0, steps);
  return {outputs, valid_lens, state};
}

GruSeq2SeqImpl::GruSeq2SeqImpl(const GruSeq2SeqOptions& o) : options_(o) {
  TORCH_CHECK(o.src_vocab_size > 0 && o.tgt_vocab_size > 0, "vocabulary sizes must be positive");
  encoder = register_module(
      "encoder", GruEncoder(o.src_vocab_size, o.embed_size, o.num_hiddens, o.num_layers, o.dropout));
  embedding = register_module("embedding", torch::nn::Embedding(o.tgt_vocab_size, o.embed_size));
  rnn = register_module("rnn", make_gru(o.embed_size + o.num_hiddens, o.num_hiddens, o.num_layers, o.dropout));
  dense = register_module("dense", torch::nn::Linear(o.num_hiddens, o.tgt_vocab_size));
  if (o.attention)
    attention = register_module(
        "attention", AdditiveAttention(AdditiveAttentionOptions{o.num_hiddens, o.num_hiddens, o.num_hiddens, o.dropout}));

  // d2l init_seq2seq: Xavier-uniform for Linear weights and GRU weight matrices; biases keep their defaults.
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(linear->weight);
    } else if (auto* gru = module->as<torch::nn::GRU>()) {
      for (auto& p : gru->named_parameters())
        if (p.key().find("weight") != std::string::npos) torch::nn::init::xavier_uniform_(p.value());
    }
  }
}

EncoderOutput GruSeq2SeqImpl::encode(const torch::Tensor& src, const torch::Tensor& valid_lens,
                                     AttentionWeights* /*attention*/) {
  return encoder->forward(src, valid_lens);
}

std::unique_ptr<DecoderState> GruSeq2SeqImpl::init_state(const EncoderOutput& encoded) {
  auto state = std::make_unique<GruDecoderState>();
  state->hidden = encoded.final_state;
  state->enc_valid_lens = encoded.valid_lens;
  if (options_.attention) {
    state->enc_outputs = encoded.outputs;
    state->enc_keys = attention->project_keys(encoded.outputs);
  } else {
    state->context = encoded.final_state[-1];
  }
  return state;
}

torch::Tensor GruSeq2SeqImpl::decode_features(const torch::Tensor& tgt, DecoderState& base_state,
                                              AttentionWeights* attention_out) {
  TORCH_CHECK(tgt.dim() == 2, "decoder input must be [batch, steps], got ", tgt.sizes());
  auto* gru_state = dynamic_cast<GruDecoderState*>(&base_state);
  if (gru_state == nullptr)
    throw std::invalid_argument("GruSeq2Seq::decode_features: the decoder state was not built by a GRU model's init_state");
  GruDecoderState& state = *gru_state;
  const int64_t batch = tgt.size(0), steps = tgt.size(1);
  auto embedded = embedding->forward(tgt).transpose(0, 1);  // [steps, batch, embed]
  torch::Tensor outputs;
  if (!options_.attention) {
    auto context = state.context.unsqueeze(0).expand({steps, batch, options_.num_hiddens});
    auto [out, hidden] = rnn->forward(torch::cat({embedded, context}, 2), state.hidden);
    state.hidden = hidden;
    outputs = out;  // [steps, batch, hiddens]
  } else {
    std::vector<torch::Tensor> step_outputs, step_weights;
    step_outputs.reserve(steps);
    for (int64_t t = 0; t < steps; ++t) {
      auto query = state.hidden[-1].unsqueeze(1);  // [batch, 1, hiddens]
      torch::Tensor weights;
      auto context = attention->forward(query, state.enc_keys, state.enc_outputs, state.enc_valid_lens,
                                        attention_out ? &weights : nullptr);  // [batch, 1, hiddens]
      auto x = torch::cat({context.transpose(0, 1), embedded.narrow(0, t, 1)}, 2);  // [1, batch, hiddens+embed]
      auto [out, hidden] = rnn->forward(x, state.hidden);
      state.hidden = hidden;
      step_outputs.push_back(out);
      if (attention_out) step_weights.push_back(weights);  // [batch, 1, src_steps]
    }
    outputs = torch::cat(step_outputs, 0);
    if (attention_out) attention_out->set("encoder_decoder", 0, torch::cat(step_weights, 1).unsqueeze(1));
  }
  state.steps_done += steps;
  return outputs.transpose(0, 1);  // [batch, steps, hiddens]
}

std::pair<torch::Tensor, torch::Tensor> GruSeq2SeqImpl::output_layer() { return {dense->weight, dense->bias}; }

}  // namespace nmt::models
