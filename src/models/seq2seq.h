#pragma once
// The encoder–decoder interface every model type implements (d2l.ai §10.6). Search, loss, optimiser and
// file I/O live outside the models; they drive them through encode / init_state / step / forward.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "ops/projection.h"

namespace nmt::models {

/// Attention weights of one model call, for output and plots. Keyed by kind: "encoder_self", "decoder_self",
/// "encoder_decoder"; each kind holds one tensor per layer, `[batch, heads, queries, keys]` (float, on the model's
/// device, detached). A decoder call over `steps` new positions gives `steps` queries; its "decoder_self" keys are
/// all positions so far (steps_done + steps), its "encoder_decoder" keys the source positions. Bahdanau attention
/// has one layer and one head.
struct AttentionWeights {
  std::map<std::string, std::vector<torch::Tensor>> layers;
  /// Sets layer `layer` of `kind` to `weights` `[batch, heads, queries, keys]` (detached).
  void set(const std::string& kind, std::size_t layer, const torch::Tensor& weights);
  /// Every layer of `kind` stacked: `[batch, layers, heads, queries, keys]`. Throws std::out_of_range when
  /// `kind` was not recorded.
  torch::Tensor stacked(const std::string& kind) const;
};

/// What the encoder produced for a batch of source sequences.
struct EncoderOutput {
  torch::Tensor outputs;      ///< `[batch, src_steps, num_hiddens]`
  torch::Tensor valid_lens;   ///< `[batch]` int64, source tokens before padding (`<eos>` included)
  torch::Tensor final_state;  ///< GRU models: `[num_layers, batch, num_hiddens]`; undefined for the Transformer
};

/// Decoder state carried from one decoding step to the next (d2l's `state`). Each model defines its own
/// subclass with the tensors it needs and reorders them itself, so a search can drop finished rows and follow
/// beam back-pointers without knowing what the state holds.
class DecoderState {
 public:
  virtual ~DecoderState() = default;
  /// Keeps only the batch rows in `index` (`[n]` int64, any device; repeats allowed), in that order, in every
  /// tensor of the state: rows leave (finished sentences), are reordered or duplicated (beam back-pointers).
  virtual void select(const torch::Tensor& index) = 0;
  /// Number of rows (the batch size the next step() call must have).
  virtual int64_t rows() const = 0;
  int64_t steps_done = 0;  ///< target positions already consumed by step()
};

/// Base class of the encoder–decoder models. Registered submodule names are checkpoint keys.
class Seq2SeqModelImpl : public torch::nn::Module {
 public:
  /// Encodes `src` `[batch, src_steps]` (token ids, padded) with `valid_lens` `[batch]`.
  /// `attention`, when given, receives the encoder self-attention weights (Transformer: "encoder_self",
  /// `[batch, heads, src_steps, src_steps]` per layer).
  virtual EncoderOutput encode(const torch::Tensor& src, const torch::Tensor& valid_lens,
                               AttentionWeights* attention = nullptr) = 0;
  /// Builds the decoder's initial state from the encoder's output (d2l `init_state`); one row per sentence.
  virtual std::unique_ptr<DecoderState> init_state(const EncoderOutput& encoded) = 0;
  /// Runs the decoder over `tgt` `[batch, steps]` (the tokens at positions steps_done .. steps_done+steps-1),
  /// updates `state` and returns the decoder's output features `[batch, steps, num_hiddens]`: what the output
  /// layer turns into logits. Feeding a prefix in one call or one token per call gives the same features
  /// (teacher forcing vs. incremental decoding). `attention`, when given, receives this call's decoder
  /// attention weights (see AttentionWeights). Throws std::invalid_argument for a state another model type built.
  virtual torch::Tensor decode_features(const torch::Tensor& tgt, DecoderState& state,
                                        AttentionWeights* attention = nullptr) = 0;
  /// Longest source, in tokens with `<eos>`, the encoder accepts (the Transformer's positional-encoding length);
  /// 0 = no limit (GRUs).
  virtual int64_t max_source_positions() const { return 0; }
  /// Longest target, in decoder positions (`<bos>` + outputs), the decoder accepts; 0 = no limit (GRUs).
  virtual int64_t max_target_positions() const { return 0; }
  /// The output layer's weight `[tgt_vocab, num_hiddens]` (the target embedding matrix when tied) and bias
  /// `[tgt_vocab]`: logits = features · weightᵀ + bias.
  virtual std::pair<torch::Tensor, torch::Tensor> output_layer() = 0;
  /// The output layer: features `[..., num_hiddens]` -> logits `[..., tgt_vocab]` (ops::vocab_projection).
  torch::Tensor project(const torch::Tensor& features);
  /// One decoder call with logits out: project(decode_features(tgt, state, attention)), `[batch, steps, tgt_vocab]`.
  torch::Tensor step(const torch::Tensor& tgt, DecoderState& state, AttentionWeights* attention = nullptr);
  /// Teacher-forced decoder features `[batch, tgt_steps, num_hiddens]` for decoder input `tgt` (training
  /// projects only the valid positions of these, see train::masked_cross_entropy).
  torch::Tensor forward_features(const torch::Tensor& src, const torch::Tensor& src_valid_lens, const torch::Tensor& tgt);
  /// Teacher-forced forward pass: logits `[batch, tgt_steps, tgt_vocab]` for decoder input `tgt`.
  torch::Tensor forward(const torch::Tensor& src, const torch::Tensor& src_valid_lens, const torch::Tensor& tgt);
};

using Seq2SeqModel = std::shared_ptr<Seq2SeqModelImpl>;

}  // namespace nmt::models
