#pragma once
// Transformer encoder–decoder (d2l.ai §11.5–§11.7; Vaswani et al. 2017, "Attention Is All You Need"):
// multi-head scaled dot-product attention, sinusoidal positional encoding, post-norm (or pre-norm) blocks,
// and a decoder with a per-layer key/value cache for incremental decoding.

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "models/dropout.h"
#include "models/seq2seq.h"

namespace nmt::models {

/// Multi-head attention (d2l.ai §11.5 `MultiHeadAttention`; Vaswani et al. §3.2.2). Queries, keys and values
/// are projected by W_q, W_k, W_v (`[num_hiddens, num_hiddens]`, no bias), split into `num_heads` heads of
/// width `num_hiddens / num_heads`, attended with scaled dot products (masked softmax, dropout on the weights),
/// concatenated and projected by W_o. All heads are computed at once as a batch of `batch * num_heads`.
class MultiHeadAttentionImpl : public torch::nn::Module {
 public:
  /// Throws std::invalid_argument (naming both numbers) when `num_heads` is not positive or does not divide
  /// `num_hiddens`, or when `num_hiddens` is not positive.
  MultiHeadAttentionImpl(int64_t num_hiddens, int64_t num_heads, double dropout);

  /// `queries` `[batch, queries, num_hiddens]`, `keys`/`values` `[batch, keys, num_hiddens]`, `valid_lens`
  /// undefined (no mask), `[batch]` or `[batch, queries]` (keys at or past the length get weight 0)
  /// -> `[batch, queries, num_hiddens]`. `weights_out`, when given, receives `[batch, num_heads, queries, keys]`.
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& keys, const torch::Tensor& values,
                        const torch::Tensor& valid_lens = {}, torch::Tensor* weights_out = nullptr);

  /// Self-attention, forward(x, x, x, ...) with the three projections as one GEMM (project_qkv): `x`
  /// `[batch, n, num_hiddens]` -> `[batch, n, num_hiddens]`; `valid_lens` and `weights_out` as in forward().
  torch::Tensor self_attend(const torch::Tensor& x, const torch::Tensor& valid_lens = {},
                            torch::Tensor* weights_out = nullptr);

  /// Projects keys and values once (for caching): `keys`/`values` `[batch, n, num_hiddens]` ->
  /// (W_k · keys, W_v · values), each split into heads, contiguous `[batch, num_heads, n, num_hiddens / num_heads]`,
  /// so that attend() reads them without another copy and a cache can grow along dim 2.
  std::pair<torch::Tensor, torch::Tensor> project_kv(const torch::Tensor& keys, const torch::Tensor& values);

  /// Self-attention projections in one GEMM: `x` `[batch, n, num_hiddens]` -> (W_q · x, W_k · x, W_v · x), each
  /// contiguous `[batch, num_heads, n, num_hiddens / num_heads]` (as project_kv). The three weights stay separate
  /// parameters (checkpoint keys W_q/W_k/W_v); with gradients on they are stacked for each call, without
  /// (decoding) three GEMMs write one buffer. TORCH_CHECK fails on other shapes.
  std::array<torch::Tensor, 3> project_qkv(const torch::Tensor& x);

  /// Like forward() but with keys/values already projected by project_kv()
  /// (`[batch, num_heads, keys, num_hiddens / num_heads]`). TORCH_CHECK fails on other shapes.
  torch::Tensor attend(const torch::Tensor& queries, const torch::Tensor& projected_keys,
                       const torch::Tensor& projected_values, const torch::Tensor& valid_lens = {},
                       torch::Tensor* weights_out = nullptr);

  /// Like attend() but with the queries projected too (`[batch, num_heads, queries, num_hiddens / num_heads]`,
  /// from project_qkv) -> `[batch, queries, num_hiddens]`. TORCH_CHECK fails on other shapes.
  torch::Tensor attend_heads(const torch::Tensor& projected_queries, const torch::Tensor& projected_keys,
                             const torch::Tensor& projected_values, const torch::Tensor& valid_lens = {},
                             torch::Tensor* weights_out = nullptr);

 private:
  /// `[batch, n, num_hiddens]` -> contiguous `[batch, num_heads, n, num_hiddens / num_heads]` (d2l `transpose_qkv`,
  /// which goes on to merge the first two dims; here that is a free view).
  torch::Tensor split_heads(const torch::Tensor& x) const;
  /// Inverse of split_heads (d2l `transpose_output`).
  torch::Tensor merge_heads(const torch::Tensor& x) const;

  int64_t num_hiddens_;
  int64_t num_heads_;
  torch::nn::Linear W_q{nullptr}, W_k{nullptr}, W_v{nullptr}, W_o{nullptr};
  Dropout dropout_{nullptr};
};
TORCH_MODULE(MultiHeadAttention);

/// Sinusoidal positional-encoding table (d2l.ai §11.6; Vaswani et al. §3.5): `[max_len, num_hiddens]` float with
/// P[pos, 2i] = sin(pos / 10000^(2i/d)) and P[pos, 2i+1] = cos(pos / 10000^(2i/d)), d = num_hiddens.
/// Throws std::invalid_argument when a size is not positive.
torch::Tensor positional_encoding_table(int64_t max_len, int64_t num_hiddens);

/// Adds the sinusoidal positional encoding, then dropout (d2l `PositionalEncoding`). The table is the buffer "P".
class PositionalEncodingImpl : public torch::nn::Module {
 public:
  PositionalEncodingImpl(int64_t num_hiddens, double dropout, int64_t max_len = 1000);
  /// `x` `[batch, steps, num_hiddens]` -> x + P[offset : offset + steps], then dropout.
  /// Throws std::invalid_argument when offset + steps exceeds max_len.
  torch::Tensor forward(const torch::Tensor& x, int64_t offset = 0);
  /// The table `[max_len, num_hiddens]`.
  const torch::Tensor& table() const { return P_; }

 private:
  torch::Tensor P_;
  Dropout dropout_{nullptr};
};
TORCH_MODULE(PositionalEncoding);

/// Residual connection with layer normalisation (d2l `AddNorm`, §11.7). Post-norm: LN(x + dropout(y));
/// pre-norm blocks use normalize() before the sublayer and residual() after it.
class AddNormImpl : public torch::nn::Module {
 public:
  AddNormImpl(int64_t num_hiddens, double dropout);
  /// Post-norm: `x`, `y` `[..., num_hiddens]` -> LN(x + dropout(y)).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& y);
  /// Pre-norm residual: x + dropout(y).
  torch::Tensor residual(const torch::Tensor& x, const torch::Tensor& y);
  /// LN(x).
  torch::Tensor normalize(const torch::Tensor& x);

 private:
  Dropout dropout_{nullptr};
  torch::nn::LayerNorm ln{nullptr};
};
TORCH_MODULE(AddNorm);

/// Position-wise feed-forward network (d2l `PositionWiseFFN`): Linear(H, ffn) -> ReLU -> Linear(ffn, H).
class PositionWiseFFNImpl : public torch::nn::Module {
 public:
  PositionWiseFFNImpl(int64_t num_hiddens, int64_t ffn_num_hiddens);
  /// `[..., num_hiddens]` -> `[..., num_hiddens]`.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear dense1{nullptr}, dense2{nullptr};
};
TORCH_MODULE(PositionWiseFFN);

/// Transformer encoder block (d2l `TransformerEncoderBlock`): self-attention + AddNorm, FFN + AddNorm.
/// With `pre_norm`: x + dropout(sublayer(LN(x))) for each sublayer.
class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(int64_t num_hiddens, int64_t ffn_num_hiddens, int64_t num_heads, double dropout, bool pre_norm);
  /// `x` `[batch, steps, H]`, `valid_lens` `[batch]` (source lengths) -> `[batch, steps, H]`;
  /// `weights_out` (optional) gets the self-attention weights `[batch, heads, steps, steps]`.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& valid_lens, torch::Tensor* weights_out = nullptr);

 private:
  bool pre_norm_;
  MultiHeadAttention attention{nullptr};
  AddNorm addnorm1{nullptr};
  PositionWiseFFN ffn{nullptr};
  AddNorm addnorm2{nullptr};
};
TORCH_MODULE(EncoderBlock);

/// Transformer decoder block (d2l `TransformerDecoderBlock`): causal self-attention + AddNorm,
/// encoder–decoder attention + AddNorm, FFN + AddNorm (or the pre-norm variants). The self-attention keys and
/// values are cached already projected, so a block can be fed one or several new positions at a time.
class DecoderBlockImpl : public torch::nn::Module {
 public:
  DecoderBlockImpl(int64_t num_hiddens, int64_t ffn_num_hiddens, int64_t num_heads, double dropout, bool pre_norm);
  /// Projects the encoder outputs `[batch, src_steps, H]` for the encoder–decoder attention: (K, V) each
  /// `[batch, heads, src_steps, H / heads]` (MultiHeadAttention::project_kv). Compute once per batch.
  std::pair<torch::Tensor, torch::Tensor> project_cross(const torch::Tensor& enc_outputs);
  /// `x` `[batch, steps, H]` (new positions); `self_keys`/`self_values` `[batch, heads, done, H / heads]` cache,
  /// replaced by `[batch, heads, done + steps, H / heads]`; `self_valid_lens` `[batch, steps]` (causal: done+1 .. done+steps);
  /// `cross_keys`/`cross_values` from project_cross(); `enc_valid_lens` `[batch]` -> `[batch, steps, H]`.
  /// `self_weights` gets `[batch, heads, steps, done + steps]`, `cross_weights` `[batch, heads, steps, src_steps]`.
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor& self_keys, torch::Tensor& self_values,
                        const torch::Tensor& self_valid_lens, const torch::Tensor& cross_keys,
                        const torch::Tensor& cross_values, const torch::Tensor& enc_valid_lens,
                        torch::Tensor* self_weights = nullptr, torch::Tensor* cross_weights = nullptr);

 private:
  bool pre_norm_;
  MultiHeadAttention self_attention{nullptr};
  AddNorm addnorm1{nullptr};
  MultiHeadAttention cross_attention{nullptr};
  AddNorm addnorm2{nullptr};
  PositionWiseFFN ffn{nullptr};
  AddNorm addnorm3{nullptr};
};
TORCH_MODULE(DecoderBlock);

/// Final projection to the target vocabulary: logits = x · Wᵀ + b. With tied embeddings the module owns only
/// the bias ("bias") and W is the target embedding matrix passed to weight_and_bias(); otherwise it owns "weight"
/// too.
class OutputLayerImpl : public torch::nn::Module {
 public:
  OutputLayerImpl(int64_t num_hiddens, int64_t vocab_size, bool tied);
  /// (weight `[vocab, H]`, bias `[vocab]`) for vocab_projection: the own weight, or `tied_weight` `[vocab, H]`
  /// when tied. Throws c10::Error when tied and `tied_weight` is undefined.
  std::pair<torch::Tensor, torch::Tensor> weight_and_bias(const torch::Tensor& tied_weight = {}) const;

 private:
  torch::Tensor weight_, bias_;
};
TORCH_MODULE(OutputLayer);

struct TransformerOptions {
  int64_t src_vocab_size = 0;
  int64_t tgt_vocab_size = 0;
  int64_t num_hiddens = 32;         ///< model width d_model
  int64_t ffn_num_hiddens = 64;     ///< FFN inner width
  int64_t num_heads = 4;            ///< must divide num_hiddens
  int64_t num_layers = 2;           ///< encoder blocks
  int64_t num_decoder_layers = 0;   ///< decoder blocks; 0 = num_layers
  double dropout = 0.1;             ///< AddNorm, positional encoding and attention-weight dropout
  bool pre_norm = false;            ///< LayerNorm before each sublayer plus a final LayerNorm per stack
  bool tie_embeddings = false;      ///< output weight = target embedding matrix (own bias kept)
  int64_t max_len = 1000;           ///< positional-encoding table length (max source / target steps)
};

/// Decoder state of the Transformer: per decoder layer, the self-attention key/value cache and the projected
/// encoder keys/values. Rows are sentences (or beam hypotheses).
class TransformerDecoderState : public DecoderState {
 public:
  torch::Tensor enc_valid_lens;             ///< `[batch]` int64
  std::vector<torch::Tensor> self_keys;     ///< per layer `[batch, num_heads, steps_done, num_hiddens / num_heads]`
  std::vector<torch::Tensor> self_values;   ///< same shape as self_keys
  std::vector<torch::Tensor> cross_keys;    ///< per layer `[batch, num_heads, src_steps, num_hiddens / num_heads]`
  std::vector<torch::Tensor> cross_values;  ///< same shape as cross_keys
  /// Keeps rows `index` of every tensor, the caches included.
  void select(const torch::Tensor& index) override;
  int64_t rows() const override { return enc_valid_lens.size(0); }
};

/// Transformer encoder–decoder (d2l.ai §11.7 `TransformerEncoder`/`TransformerDecoder`).
/// Token embeddings are scaled by sqrt(num_hiddens) before the positional encoding (d2l, Vaswani §3.4).
/// Initialisation: Xavier-uniform for every Linear weight (d2l `init_seq2seq`), N(0, num_hiddens^-0.5) for the
/// embeddings (Vaswani/fairseq), so that the scaled embeddings have unit variance like the positional encoding
/// (d2l keeps PyTorch's N(0, 1) embeddings, which drown the encoding at sqrt(H) scale).
/// Checkpoint keys: "src_embedding", "tgt_embedding", "pos_encoding" (buffer "P"), "encoder_blocks.<i>",
/// "decoder_blocks.<i>" (blocks: "attention"/"self_attention", "cross_attention", "addnorm1..3", "ffn"),
/// "encoder_norm" and "decoder_norm" (pre-norm only), "dense" ("weight" unless tied, "bias").
class TransformerImpl : public Seq2SeqModelImpl {
 public:
  /// Throws std::invalid_argument for non-positive sizes, a negative layer count or dropout outside [0, 1),
  /// or num_heads not dividing num_hiddens.
  explicit TransformerImpl(const TransformerOptions& options);
  /// `src` `[batch, src_steps]`, `valid_lens` `[batch]` -> outputs `[batch, src_steps, H]`, valid_lens,
  /// undefined final_state. With `attention`: "encoder_self" `[batch, heads, src_steps, src_steps]` per layer.
  /// Throws std::invalid_argument when src_steps exceeds max_len (naming the limit).
  EncoderOutput encode(const torch::Tensor& src, const torch::Tensor& valid_lens,
                       AttentionWeights* attention = nullptr) override;
  /// A TransformerDecoderState: each decoder layer's projected encoder keys/values (cross_keys/cross_values, each
  /// `[batch, num_heads, src_steps, H / num_heads]`) and empty self-attention caches
  /// `[batch, num_heads, 0, H / num_heads]`, steps_done 0.
  std::unique_ptr<DecoderState> init_state(const EncoderOutput& encoded) override;
  /// `tgt` `[batch, steps]` (positions steps_done ..) -> decoder features `[batch, steps, H]`: the last decoder
  /// block's output (after the final LayerNorm with pre_norm), not logits (output_layer() / project() make those).
  /// Appends the new projected keys/values to the caches (`[batch, num_heads, steps_done + steps, H / num_heads]`
  /// afterwards); position t attends to keys 0..t. With `attention`: "decoder_self"
  /// `[batch, heads, steps, steps_done + steps]` and "encoder_decoder" `[batch, heads, steps, src_steps]` per layer.
  /// Throws std::invalid_argument for a state not built by init_state() of this model
  /// or when the target passes max_len positions.
  torch::Tensor decode_features(const torch::Tensor& tgt, DecoderState& state,
                                AttentionWeights* attention = nullptr) override;
  /// options.max_len (the positional-encoding table).
  int64_t max_source_positions() const override { return options_.max_len; }
  /// options.max_len (the positional-encoding table).
  int64_t max_target_positions() const override { return options_.max_len; }
  std::pair<torch::Tensor, torch::Tensor> output_layer() override;

 private:
  TransformerOptions options_;
  int64_t num_decoder_layers_;
  torch::nn::Embedding src_embedding{nullptr}, tgt_embedding{nullptr};
  PositionalEncoding pos_encoding{nullptr};
  torch::nn::ModuleList encoder_blocks{nullptr}, decoder_blocks{nullptr};
  std::vector<EncoderBlock> encoder_layers_;
  std::vector<DecoderBlock> decoder_layers_;
  torch::nn::LayerNorm encoder_norm{nullptr}, decoder_norm{nullptr};
  OutputLayer dense{nullptr};
};

}  // namespace nmt::models
