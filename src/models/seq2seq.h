#pragma once
// The encoder–decoder interface every model type implements (d2l.ai §10.6). Search, loss, optimiser and
// file I/O live outside the models; they drive them through encode / init_state / step / forward.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "ops/projection.h"

namespace nmt::models {

/// Attention weights collected while a model runs, for output and plots. Keyed by kind:
/// "encoder_self", "decoder_self", "encoder_decoder". Each kind holds one list per layer; each list holds
/// chunks `[batch, heads, queries, keys]` in the order the queries were computed (one per decoding step
/// when decoding incrementally). Bahdanau attention records one layer and one head.
struct AttentionRecord {
  std::map<std::string, std::vector<std::vector<torch::Tensor>>> weights;
  /// Appends `chunk` `[batch, heads, queries, keys]` to `kind`, layer `layer`.
  void add(const std::string& kind, std::size_t layer, torch::Tensor chunk);
};

/// What the encoder produced for a batch of source sequences.
struct EncoderOutput {
  torch::Tensor outputs;      ///< `[batch, src_steps, num_hiddens]`
  torch::Tensor valid_lens;   ///< `[batch]` int64, source tokens before padding (`<eos>` included)
  torch::Tensor final_state;  ///< GRU models: `[num_layers, batch, num_hiddens]`; undefined for the Transformer
};

/// Decoder state carried from one decoding step to the next. Each model fills the fields it needs.
struct DecoderState {
  torch::Tensor enc_outputs;     ///< GRU models: `[batch, src_steps, num_hiddens]` (the Transformer keeps cross_keys)
  torch::Tensor enc_valid_lens;  ///< `[batch]`
  torch::Tensor hidden;          ///< GRU hidden state `[num_layers, batch, num_hiddens]`
  torch::Tensor context;         ///< plain seq2seq: the encoder's final top-layer state `[batch, num_hiddens]`
  torch::Tensor enc_keys;        ///< Bahdanau: W_k · enc_outputs, computed once per batch `[batch, src_steps, num_hiddens]`
  std::vector<torch::Tensor> self_keys;     ///< Transformer cache per decoder layer, heads split:
                                            ///< `[batch, num_heads, steps_done, num_hiddens / num_heads]`
  std::vector<torch::Tensor> self_values;   ///< same shape as self_keys
  std::vector<torch::Tensor> cross_keys;    ///< Transformer, per layer, projected encoder outputs, heads split:
                                            ///< `[batch, num_heads, src_steps, num_hiddens / num_heads]`
  std::vector<torch::Tensor> cross_values;  ///< same shape as cross_keys
  int64_t steps_done = 0;                   ///< target positions already consumed by step()
  AttentionRecord* record = nullptr;        ///< when set, step() appends its attention weights here

  /// Keeps only the batch rows in `index` (`[n]` int64), in that order, in every defined tensor
  /// (used to drop finished sentences or reorder beams).
  void select(const torch::Tensor& index);
};

/// Base class of the encoder–decoder models. Registered submodule names are checkpoint keys.
class Seq2SeqModelImpl : public torch::nn::Module {
 public:
  /// Encodes `src` `[batch, src_steps]` (token ids, padded) with `valid_lens` `[batch]`.
  /// `record`, when given, receives encoder self-attention weights (Transformer).
  virtual EncoderOutput encode(const torch::Tensor& src, const torch::Tensor& valid_lens,
                               AttentionRecord* record = nullptr) = 0;
  /// Builds the decoder's initial state from the encoder's output (d2l `init_state`).
  virtual DecoderState init_state(const EncoderOutput& encoded) = 0;
  /// Runs the decoder over `tgt` `[batch, steps]` (the tokens at positions steps_done .. steps_done+steps-1),
  /// updates `state` and returns the decoder's output features `[batch, steps, num_hiddens]`: what the output
  /// layer turns into logits. Feeding a prefix in one call or one token per call gives the same features
  /// (teacher forcing vs. incremental decoding).
  virtual torch::Tensor decode_features(const torch::Tensor& tgt, DecoderState& state) = 0;
  /// The output layer's weight `[tgt_vocab, num_hiddens]` (the target embedding matrix when tied) and bias
  /// `[tgt_vocab]`: logits = features · weightᵀ + bias.
  virtual std::pair<torch::Tensor, torch::Tensor> output_layer() = 0;
  /// The output layer: features `[..., num_hiddens]` -> logits `[..., tgt_vocab]` (ops::vocab_projection).
  torch::Tensor project(const torch::Tensor& features);
  /// One decoder call with logits out: project(decode_features(tgt, state)), `[batch, steps, tgt_vocab]`.
  torch::Tensor step(const torch::Tensor& tgt, DecoderState& state);
  /// Teacher-forced decoder features `[batch, tgt_steps, num_hiddens]` for decoder input `tgt` (training
  /// projects only the valid positions of these, see train::masked_cross_entropy).
  torch::Tensor forward_features(const torch::Tensor& src, const torch::Tensor& src_valid_lens, const torch::Tensor& tgt);
  /// Teacher-forced forward pass: logits `[batch, tgt_steps, tgt_vocab]` for decoder input `tgt`.
  torch::Tensor forward(const torch::Tensor& src, const torch::Tensor& src_valid_lens, const torch::Tensor& tgt);
};

using Seq2SeqModel = std::shared_ptr<Seq2SeqModelImpl>;

}  // namespace nmt::models
