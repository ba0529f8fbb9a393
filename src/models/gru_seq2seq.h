#pragma once
// GRU encoder–decoder, plain (d2l.ai §10.7) or with Bahdanau attention (d2l.ai §11.4).

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include "models/attention.h"
#include "models/seq2seq.h"

namespace nmt::models {

struct GruSeq2SeqOptions {
  int64_t src_vocab_size = 0;
  int64_t tgt_vocab_size = 0;
  int64_t embed_size = 32;
  int64_t num_hiddens = 32;
  int64_t num_layers = 2;
  double dropout = 0.0;
  bool attention = false;  ///< true: Bahdanau additive attention decoder (d2l Seq2SeqAttentionDecoder)
};

/// d2l Seq2SeqEncoder: Embedding + multi-layer GRU. The GRU reads each sequence only up to its valid
/// length (packed sequences), so the final state does not depend on how much padding follows.
class GruEncoderImpl : public torch::nn::Module {
 public:
  GruEncoderImpl(int64_t vocab_size, int64_t embed_size, int64_t num_hiddens, int64_t num_layers, double dropout);
  /// `src` `[batch, steps]`, `valid_lens` `[batch]` -> outputs `[batch, steps, num_hiddens]` (zeros past the
  /// valid length) and final state `[num_layers, batch, num_hiddens]`.
  EncoderOutput forward(const torch::Tensor& src, const torch::Tensor& valid_lens);

 private:
  torch::nn::Embedding embedding{nullptr};
  torch::nn::GRU rnn{nullptr};
};
TORCH_MODULE(GruEncoder);

/// Decoder state of the GRU models. Rows are sentences (or beam hypotheses).
class GruDecoderState : public DecoderState {
 public:
  torch::Tensor hidden;          ///< `[num_layers, batch, num_hiddens]`
  torch::Tensor enc_valid_lens;  ///< `[batch]` int64
  torch::Tensor context;         ///< plain decoder: the encoder's final top-layer state `[batch, num_hiddens]`
  torch::Tensor enc_outputs;     ///< attention decoder: `[batch, src_steps, num_hiddens]`
  torch::Tensor enc_keys;        ///< attention decoder: W_k · enc_outputs, computed once `[batch, src_steps, num_hiddens]`
  /// Keeps rows `index` of every defined tensor (hidden along its axis 1, the others along axis 0).
  void select(const torch::Tensor& index) override;
  int64_t rows() const override { return hidden.size(1); }
};

/// GRU encoder–decoder. Plain decoder: the GRU input is the target embedding concatenated with the
/// encoder's final top-layer state (a fixed context); its initial state is the encoder's final state.
/// Attention decoder: at every step the query is the decoder's previous top-layer state, keys = values =
/// encoder outputs, and the GRU input is the attention context concatenated with the embedding.
/// Weights of Linear and GRU layers get Xavier-uniform initialisation (d2l `init_seq2seq`).
class GruSeq2SeqImpl : public Seq2SeqModelImpl {
 public:
  explicit GruSeq2SeqImpl(const GruSeq2SeqOptions& options);
  /// Records no attention (a GRU encoder has none).
  EncoderOutput encode(const torch::Tensor& src, const torch::Tensor& valid_lens,
                       AttentionWeights* attention = nullptr) override;
  /// A GruDecoderState.
  std::unique_ptr<DecoderState> init_state(const EncoderOutput& encoded) override;
  /// `tgt` `[batch, steps]` -> decoder features `[batch, steps, num_hiddens]`: the top GRU layer's output at every
  /// step (not logits: output_layer() / project() turn them into `[batch, steps, tgt_vocab]`). Updates
  /// `state.hidden`; with `attention`, the Bahdanau weights of the steps, "encoder_decoder" layer 0,
  /// `[batch, 1, steps, src_steps]`. Throws std::invalid_argument when `state` is not a GruDecoderState.
  torch::Tensor decode_features(const torch::Tensor& tgt, DecoderState& state,
                                AttentionWeights* attention = nullptr) override;
  std::pair<torch::Tensor, torch::Tensor> output_layer() override;

 private:
  GruSeq2SeqOptions options_;
  GruEncoder encoder{nullptr};
  torch::nn::Embedding embedding{nullptr};
  torch::nn::GRU rnn{nullptr};
  torch::nn::Linear dense{nullptr};
  AdditiveAttention attention{nullptr};
};

}  // namespace nmt::models
