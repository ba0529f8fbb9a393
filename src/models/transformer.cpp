#include "models/transformer.h"

#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "models/attention.h"
#include "ops/attention_ops.h"

namespace nmt::models {
namespace {

torch::nn::Linear make_linear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

void check_dropout(double dropout, const char* where) {
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw std::invalid_argument(std::string(where) + ": dropout must be in [0, 1), got " + std::to_string(dropout));
}

}  // namespace

// ---------------------------------------------------------------------------------------------- attention

MultiHeadAttentionImpl::MultiHeadAttentionImpl(int64_t num_hiddens, int64_t num_heads, double dropout)
    : num_hiddens_(num_hiddens), num_heads_(num_heads) {
  if (num_hiddens <= 0 || num_heads <= 0 || num_hiddens % num_heads != 0)
    throw std::invalid_argument("MultiHeadAttention: num_heads (" + std::to_string(num_heads) +
                                ") must be positive and divide num_hiddens (" + std::to_string(num_hiddens) + ")");
  check_dropout(dropout, "MultiHeadAttention");
  W_q = register_module("W_q", make_linear(num_hiddens, num_hiddens, false));
  W_k = register_module("W_k", make_linear(num_hiddens, num_hiddens, false));
  W_v = register_module("W_v", make_linear(num_hiddens, num_hiddens, false));
  W_o = register_module("W_o", make_linear(num_hiddens, num_hiddens, false));
  dropout_ = register_module("dropout", Dropout(dropout));
}

torch::Tensor MultiHeadAttentionImpl::split_heads(const torch::Tensor& x) const {
  const int64_t batch = x.size(0), n = x.size(1);
  return x.reshape({batch, n, num_heads_, num_hiddens_ / num_heads_}).permute({0, 2, 1, 3}).contiguous();
}

torch::Tensor MultiHeadAttentionImpl::merge_heads(const torch::Tensor& x) const {
  const int64_t n = x.size(1);
  return x.reshape({-1, num_heads_, n, num_hiddens_ / num_heads_}).permute({0, 2, 1, 3}).reshape({-1, n, num_hiddens_});
}

std::pair<torch::Tensor, torch::Tensor> MultiHeadAttentionImpl::project_kv(const torch::Tensor& keys,
                                                                           const torch::Tensor& values) {
  return {split_heads(W_k->forward(keys)), split_heads(W_v->forward(values))};
}

std::array<torch::Tensor, 3> MultiHeadAttentionImpl::project_qkv(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == num_hiddens_, "MultiHeadAttention: input must be [batch, n, ", num_hiddens_,
              "], got ", x.sizes());
  const int64_t batch = x.size(0), n = x.size(1), head_dim = num_hiddens_ / num_heads_;
  const auto rows = x.reshape({batch * n, num_hiddens_});
  if (!torch::GradMode::is_enabled()) {
    // Decoding: three GEMMs into one buffer, which spares stacking the weights again at every step.
    auto out = torch::empty({3, batch * n, num_hiddens_}, x.options());
    const torch::Tensor* weights[] = {&W_q->weight, &W_k->weight, &W_v->weight};
    for (int64_t i = 0; i < 3; ++i) {
      auto part = out[i];
      torch::mm_out(part, rows, weights[i]->t());
    }
    auto qkv = out.view({3, batch, n, num_heads_, head_dim}).permute({0, 1, 3, 2, 4}).contiguous().unbind(0);
    return {qkv[0], qkv[1], qkv[2]};
  }
  // Training: one GEMM against the stacked [3 * num_hiddens, num_hiddens] weights, one copy into the head
  // layout; unbind (not three selects) so that backward stacks the three gradients instead of zero-padding each.
  auto weight = torch::cat({W_q->weight, W_k->weight, W_v->weight}, 0);
  auto qkv = torch::mm(rows, weight.t())
                 .view({batch, n, 3, num_heads_, head_dim})
                 .permute({2, 0, 3, 1, 4})
                 .contiguous()
                 .unbind(0);
  return {qkv[0], qkv[1], qkv[2]};
}

torch::Tensor MultiHeadAttentionImpl::attend(const torch::Tensor& queries, const torch::Tensor& projected_keys,
                                             const torch::Tensor& projected_values, const torch::Tensor& valid_lens,
                                             torch::Tensor* weights_out) {
  TORCH_CHECK(queries.dim() == 3 && queries.size(2) == num_hiddens_, "MultiHeadAttention: queries must be [batch, n, ",
              num_hiddens_, "], got ", queries.sizes());
  return attend_heads(split_heads(W_q->forward(queries)), projected_keys, projected_values, valid_lens, weights_out);
}

torch::Tensor MultiHeadAttentionImpl::attend_heads(const torch::Tensor& projected_queries,
                                                   const torch::Tensor& projected_keys,
                                                   const torch::Tensor& projected_values,
                                                   const torch::Tensor& valid_lens, torch::Tensor* weights_out) {
  const int64_t head_dim = num_hiddens_ / num_heads_;
  const auto& q4 = projected_queries;
  TORCH_CHECK(q4.dim() == 4 && q4.size(1) == num_heads_ && q4.size(3) == head_dim,
              "MultiHeadAttention: projected queries must be [batch, ", num_heads_, ", queries, ", head_dim, "], got ",
              q4.sizes());
  TORCH_CHECK(projected_keys.dim() == 4 && projected_keys.size(1) == num_heads_ && projected_keys.size(3) == head_dim &&
                  projected_values.sizes() == projected_keys.sizes() && projected_keys.size(0) == q4.size(0),
              "MultiHeadAttention: projected keys/values must be [batch, ", num_heads_, ", keys, ", head_dim,
              "] (project_kv), got ", projected_keys.sizes(), " and ", projected_values.sizes());
  const int64_t batch = q4.size(0), num_queries = q4.size(2), num_keys = projected_keys.size(2);
  // Heads as one batch of batch * num_heads: free views of the contiguous [batch, heads, n, d] tensors.
  auto q = q4.reshape({batch * num_heads_, num_queries, head_dim});
  auto k = projected_keys.reshape({batch * num_heads_, num_keys, head_dim});
  auto v = projected_values.reshape({batch * num_heads_, num_keys, head_dim});
  auto scores = ops::batched_matmul_nt(q, k);  // [B*h, Q, K], scaled by 1/√d inside the masked softmax
  auto attention =
      ops::masked_softmax(scores, valid_lens, 1.0 / std::sqrt(static_cast<double>(head_dim)), num_heads_);
  if (weights_out) *weights_out = attention.reshape({batch, num_heads_, num_queries, num_keys});
  auto out = ops::batched_matmul(dropout_->forward(attention), v);  // [B*h, Q, d]
  return W_o->forward(merge_heads(out));
}

torch::Tensor MultiHeadAttentionImpl::forward(const torch::Tensor& queries, const torch::Tensor& keys,
                                              const torch::Tensor& values, const torch::Tensor& valid_lens,
                                              torch::Tensor* weights_out) {
  auto [k, v] = project_kv(keys, values);
  return attend(queries, k, v, valid_lens, weights_out);
}

torch::Tensor MultiHeadAttentionImpl::self_attend(const torch::Tensor& x, const torch::Tensor& valid_lens,
                                                  torch::Tensor* weights_out) {
  auto [q, k, v] = project_qkv(x);
  return attend_heads(q, k, v, valid_lens, weights_out);
}

// ---------------------------------------------------------------------------------------------- positional encoding

torch::Tensor positional_encoding_table(int64_t max_len, int64_t num_hiddens) {
  if (max_len <= 0 || num_hiddens <= 0)
    throw std::invalid_argument("positional_encoding_table: max_len (" + std::to_string(max_len) +
                                ") and num_hiddens (" + std::to_string(num_hiddens) + ") must be positive");
  auto pos = torch::arange(max_len, torch::kDouble).unsqueeze(1);                       // [L, 1]
  auto even = torch::arange(0, num_hiddens, 2, torch::kDouble);                         // 2i
  auto angles = pos / torch::pow(10000.0, even / static_cast<double>(num_hiddens));    // [L, ceil(d/2)]
  auto P = torch::zeros({max_len, num_hiddens}, torch::kDouble);
  using torch::indexing::None;
  using torch::indexing::Slice;
  P.index_put_({Slice(), Slice(0, None, 2)}, torch::sin(angles));
  P.index_put_({Slice(), Slice(1, None, 2)}, torch::cos(angles.narrow(1, 0, num_hiddens / 2)));
  return P.to(torch::kFloat);
}

PositionalEncodingImpl::PositionalEncodingImpl(int64_t num_hiddens, double dropout, int64_t max_len) {
  check_dropout(dropout, "PositionalEncoding");
  P_ = register_buffer("P", positional_encoding_table(max_len, num_hiddens));
  dropout_ = register_module("dropout", Dropout(dropout));
}

torch::Tensor PositionalEncodingImpl::forward(const torch::Tensor& x, int64_t offset) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == P_.size(1), "PositionalEncoding: input must be [batch, steps, ",
              P_.size(1), "], got ", x.sizes());
  const int64_t steps = x.size(1);
  if (offset < 0 || offset + steps > P_.size(0))
    throw std::invalid_argument("PositionalEncoding: positions " + std::to_string(offset) + ".." +
                                std::to_string(offset + steps - 1) + " exceed max_len " + std::to_string(P_.size(0)));
  return dropout_->forward(x + P_.narrow(0, offset, steps).unsqueeze(0).to(x.dtype()));
}

// ---------------------------------------------------------------------------------------------- blocks

AddNormImpl::AddNormImpl(int64_t num_hiddens, double dropout) {
  dropout_ = register_module("dropout", Dropout(dropout));
  ln = register_module("ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({num_hiddens})));
}

torch::Tensor AddNormImpl::forward(const torch::Tensor& x, const torch::Tensor& y) {
  return ln->forward(x + dropout_->forward(y));
}

torch::Tensor AddNormImpl::residual(const torch::Tensor& x, const torch::Tensor& y) { return x + dropout_->forward(y); }

torch::Tensor AddNormImpl::normalize(const torch::Tensor& x) { return ln->forward(x); }

PositionWiseFFNImpl::PositionWiseFFNImpl(int64_t num_hiddens, int64_t ffn_num_hiddens) {
  dense1 = register_module("dense1", make_linear(num_hiddens, ffn_num_hiddens, true));
  dense2 = register_module("dense2", make_linear(ffn_num_hiddens, num_hiddens, true));
}

torch::Tensor PositionWiseFFNImpl::forward(const torch::Tensor& x) {
  // In place: dense1's backward does not need its output, and relu's needs only its own result.
  auto h = dense1->forward(x);
  return dense2->forward(h.relu_());
}

EncoderBlockImpl::EncoderBlockImpl(int64_t num_hiddens, int64_t ffn_num_hiddens, int64_t num_heads, double dropout,
                                   bool pre_norm)
    : pre_norm_(pre_norm) {
  attention = register_module("attention", MultiHeadAttention(num_hiddens, num_heads, dropout));
  addnorm1 = register_module("addnorm1", AddNorm(num_hiddens, dropout));
  ffn = register_module("ffn", PositionWiseFFN(num_hiddens, ffn_num_hiddens));
  addnorm2 = register_module("addnorm2", AddNorm(num_hiddens, dropout));
}

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& valid_lens,
                                        torch::Tensor* weights_out) {
  if (pre_norm_) {
    auto y = addnorm1->normalize(x);
    auto h = addnorm1->residual(x, attention->self_attend(y, valid_lens, weights_out));
    return addnorm2->residual(h, ffn->forward(addnorm2->normalize(h)));
  }
  auto h = addnorm1->forward(x, attention->self_attend(x, valid_lens, weights_out));
  return addnorm2->forward(h, ffn->forward(h));
}

DecoderBlockImpl::DecoderBlockImpl(int64_t num_hiddens, int64_t ffn_num_hiddens, int64_t num_heads, double dropout,
                                   bool pre_norm)
    : pre_norm_(pre_norm) {
  self_attention = register_module("self_attention", MultiHeadAttention(num_hiddens, num_heads, dropout));
  addnorm1 = register_module("addnorm1", AddNorm(num_hiddens, dropout));
  cross_attention = register_module("cross_attention", MultiHeadAttention(num_hiddens, num_heads, dropout));
  addnorm2 = register_module("addnorm2", AddNorm(num_hiddens, dropout));
  ffn = register_module("ffn", PositionWiseFFN(num_hiddens, ffn_num_hiddens));
  addnorm3 = register_module("addnorm3", AddNorm(num_hiddens, dropout));
}

std::pair<torch::Tensor, torch::Tensor> DecoderBlockImpl::project_cross(const torch::Tensor& enc_outputs) {
  return cross_attention->project_kv(enc_outputs, enc_outputs);
}

torch::Tensor DecoderBlockImpl::forward(const torch::Tensor& x, torch::Tensor& self_keys, torch::Tensor& self_values,
                                        const torch::Tensor& self_valid_lens, const torch::Tensor& cross_keys,
                                        const torch::Tensor& cross_values, const torch::Tensor& enc_valid_lens,
                                        torch::Tensor* self_weights, torch::Tensor* cross_weights) {
  // Self-attention over the cached positions plus the new ones; the cache holds W_k/W_v of the sublayer input.
  auto y = pre_norm_ ? addnorm1->normalize(x) : x;
  auto [q, k, v] = self_attention->project_qkv(y);
  self_keys = self_keys.defined() && self_keys.size(2) > 0 ? torch::cat({self_keys, k}, 2) : k;
  self_values = self_values.defined() && self_values.size(2) > 0 ? torch::cat({self_values, v}, 2) : v;
  auto a = self_attention->attend_heads(q, self_keys, self_values, self_valid_lens, self_weights);
  auto h = pre_norm_ ? addnorm1->residual(x, a) : addnorm1->forward(x, a);

  auto z = pre_norm_ ? addnorm2->normalize(h) : h;
  auto c = cross_attention->attend(z, cross_keys, cross_values, enc_valid_lens, cross_weights);
  h = pre_norm_ ? addnorm2->residual(h, c) : addnorm2->forward(h, c);

  if (pre_norm_) return addnorm3->residual(h, ffn->forward(addnorm3->normalize(h)));
  return addnorm3->forward(h, ffn->forward(h));
}

OutputLayerImpl::OutputLayerImpl(int64_t num_hiddens, int64_t vocab_size, bool tied) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(num_hiddens));  // PyTorch Linear's default bias init
  if (!tied) {
    weight_ = register_parameter("weight", torch::empty({vocab_size, num_hiddens}));
    torch::NoGradGuard no_grad;
    torch::nn::init::xavier_uniform_(weight_);
  }
  bias_ = register_parameter("bias", torch::empty({vocab_size}));
  torch::NoGradGuard no_grad;
  bias_.uniform_(-bound, bound);
}

std::pair<torch::Tensor, torch::Tensor> OutputLayerImpl::weight_and_bias(const torch::Tensor& tied_weight) const {
  const auto& w = weight_.defined() ? weight_ : tied_weight;
  TORCH_CHECK(w.defined(), "OutputLayer: tied output layer needs the embedding weight");
  return {w, bias_};
}


// ---------------------------------------------------------------------------------------------- model

TransformerImpl::TransformerImpl(const TransformerOptions& o)
    : options_(o), num_decoder_layers_(o.num_decoder_layers > 0 ? o.num_decoder_layers : o.num_layers) {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw std::invalid_argument(std::string("Transformer: ") + name + " must be positive, got " + std::to_string(v));
  };
  positive(o.src_vocab_size, "src_vocab_size");
  positive(o.tgt_vocab_size, "tgt_vocab_size");
  positive(o.num_hiddens, "num_hiddens");
  positive(o.ffn_num_hiddens, "ffn_num_hiddens");
  positive(o.num_heads, "num_heads");
  positive(o.num_layers, "num_layers");
  positive(o.max_len, "max_len");
  if (o.num_decoder_layers < 0)
    throw std::invalid_argument("Transformer: num_decoder_layers must be >= 0, got " + std::to_string(o.num_decoder_layers));
  if (o.num_hiddens % o.num_heads != 0)
    throw std::invalid_argument("Transformer: num_heads (" + std::to_string(o.num_heads) +
                                ") must divide num_hiddens (" + std::to_string(o.num_hiddens) + ")");
  check_dropout(o.dropout, "Transformer");

  const int64_t H = o.num_hiddens;
  src_embedding = register_module("src_embedding", torch::nn::Embedding(o.src_vocab_size, H));
  tgt_embedding = register_module("tgt_embedding", torch::nn::Embedding(o.tgt_vocab_size, H));
  pos_encoding = register_module("pos_encoding", PositionalEncoding(H, o.dropout, o.max_len));
  encoder_blocks = register_module("encoder_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    encoder_layers_.emplace_back(H, o.ffn_num_hiddens, o.num_heads, o.dropout, o.pre_norm);
    encoder_blocks->push_back(encoder_layers_.back());
  }
  decoder_blocks = register_module("decoder_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_decoder_layers_; ++i) {
    decoder_layers_.emplace_back(H, o.ffn_num_hiddens, o.num_heads, o.dropout, o.pre_norm);
    decoder_blocks->push_back(decoder_layers_.back());
  }
  if (o.pre_norm) {
    encoder_norm = register_module("encoder_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({H})));
    decoder_norm = register_module("decoder_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({H})));
  }
  dense = register_module("dense", OutputLayer(H, o.tgt_vocab_size, o.tie_embeddings));

  // Xavier-uniform Linear weights (d2l init_seq2seq; OutputLayer does its own); embeddings N(0, H^-1/2).
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false))
    if (auto* linear = module->as<torch::nn::Linear>()) torch::nn::init::xavier_uniform_(linear->weight);
  const double embed_std = 1.0 / std::sqrt(static_cast<double>(H));
  src_embedding->weight.normal_(0.0, embed_std);
  tgt_embedding->weight.normal_(0.0, embed_std);
}

void TransformerDecoderState::select(const torch::Tensor& index) {
  auto idx = index.to(enc_valid_lens.device());
  enc_valid_lens = enc_valid_lens.index_select(0, idx);
  for (auto* list : {&self_keys, &self_values, &cross_keys, &cross_values})
    for (auto& t : *list) t = t.index_select(0, idx);
}

EncoderOutput TransformerImpl::encode(const torch::Tensor& src, const torch::Tensor& valid_lens,
                                      AttentionWeights* attention) {
  if (src.dim() != 2)
    throw std::invalid_argument("Transformer::encode: src must be [batch, steps], got " + std::to_string(src.dim()) +
                                " dims");
  const double scale = std::sqrt(static_cast<double>(options_.num_hiddens));
  auto x = pos_encoding->forward(src_embedding->forward(src) * scale, 0);
  for (std::size_t l = 0; l < encoder_layers_.size(); ++l) {
    torch::Tensor weights;
    x = encoder_layers_[l]->forward(x, valid_lens, attention ? &weights : nullptr);
    if (attention) attention->set("encoder_self", l, weights);
  }
  if (options_.pre_norm) x = encoder_norm->forward(x);
  return {x, valid_lens, torch::Tensor()};
}

std::unique_ptr<DecoderState> TransformerImpl::init_state(const EncoderOutput& encoded) {
  auto owned = std::make_unique<TransformerDecoderState>();
  TransformerDecoderState& state = *owned;
  // The encoder outputs are not kept: the decoder reads only the projected keys/values.
  state.enc_valid_lens = encoded.valid_lens;
  const int64_t batch = encoded.outputs.size(0);
  for (auto& block : decoder_layers_) {
    auto [k, v] = block->project_cross(encoded.outputs);
    state.cross_keys.push_back(k);
    state.cross_values.push_back(v);
    const int64_t heads = options_.num_heads, head_dim = options_.num_hiddens / heads;
    state.self_keys.push_back(torch::zeros({batch, heads, 0, head_dim}, encoded.outputs.options()));
    state.self_values.push_back(torch::zeros({batch, heads, 0, head_dim}, encoded.outputs.options()));
  }
  state.steps_done = 0;
  return owned;
}

torch::Tensor TransformerImpl::decode_features(const torch::Tensor& tgt, DecoderState& base_state,
                                               AttentionWeights* attention) {
  if (tgt.dim() != 2)
    throw std::invalid_argument("Transformer::decode_features: tgt must be [batch, steps], got " + std::to_string(tgt.dim()) +
                                " dims");
  auto* transformer_state = dynamic_cast<TransformerDecoderState*>(&base_state);
  if (transformer_state == nullptr)
    throw std::invalid_argument("Transformer::decode_features: the decoder state was not built by a Transformer's init_state");
  TransformerDecoderState& state = *transformer_state;
  const auto layers = static_cast<std::size_t>(num_decoder_layers_);
  if (state.self_keys.size() != layers || state.self_values.size() != layers || state.cross_keys.size() != layers ||
      state.cross_values.size() != layers)
    throw std::invalid_argument("Transformer::decode_features: decoder state has " + std::to_string(state.cross_keys.size()) +
                                " layer caches, the model has " + std::to_string(layers) +
                                " decoder layers (use this model's init_state)");
  const int64_t batch = tgt.size(0), steps = tgt.size(1);
  const double scale = std::sqrt(static_cast<double>(options_.num_hiddens));
  auto x = pos_encoding->forward(tgt_embedding->forward(tgt) * scale, state.steps_done);
  // Causal mask: the query at position steps_done + t sees keys 0 .. steps_done + t.
  auto self_valid_lens = torch::arange(state.steps_done + 1, state.steps_done + steps + 1,
                                       torch::TensorOptions().dtype(torch::kLong).device(tgt.device()))
                             .unsqueeze(0)
                             .expand({batch, steps});
  for (std::size_t l = 0; l < layers; ++l) {
    torch::Tensor self_w, cross_w;
    const bool rec = attention != nullptr;
    x = decoder_layers_[l]->forward(x, state.self_keys[l], state.self_values[l], self_valid_lens, state.cross_keys[l],
                                    state.cross_values[l], state.enc_valid_lens, rec ? &self_w : nullptr,
                                    rec ? &cross_w : nullptr);
    if (rec) {
      attention->set("decoder_self", l, self_w);
      attention->set("encoder_decoder", l, cross_w);
    }
  }
  if (options_.pre_norm) x = decoder_norm->forward(x);
  state.steps_done += steps;
  return x;
}

std::pair<torch::Tensor, torch::Tensor> TransformerImpl::output_layer() {
  return dense->weight_and_bias(options_.tie_embeddings ? tgt_embedding->weight : torch::Tensor());
}

}  // namespace nmt::models
