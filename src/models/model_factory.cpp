#include "models/model_factory.h"

#include <stdexcept>

#include <torch/torch.h>

#include "models/gru_seq2seq.h"
#include "models/transformer.h"

namespace nmt::models {

Seq2SeqModel make_model(const common::ModelConfig& c, int64_t src_vocab_size, int64_t tgt_vocab_size) {
  if (c.type == common::kModelSeq2Seq || c.type == common::kModelSeq2SeqAttention) {
    GruSeq2SeqOptions o;
    o.src_vocab_size = src_vocab_size;
    o.tgt_vocab_size = tgt_vocab_size;
    o.embed_size = c.embed_size;
    o.num_hiddens = c.num_hiddens;
    o.num_layers = c.num_layers;
    o.dropout = c.dropout;
    o.attention = c.type == common::kModelSeq2SeqAttention;
    return std::make_shared<GruSeq2SeqImpl>(o);
  }
  if (c.type == common::kModelTransformer) {
    TransformerOptions o;
    o.src_vocab_size = src_vocab_size;
    o.tgt_vocab_size = tgt_vocab_size;
    o.num_hiddens = c.num_hiddens;
    o.ffn_num_hiddens = c.ffn_num_hiddens;
    o.num_heads = c.num_heads;
    o.num_layers = c.num_layers;
    o.num_decoder_layers = c.num_decoder_layers;
    o.dropout = c.dropout;
    o.pre_norm = c.pre_norm;
    o.tie_embeddings = c.tie_embeddings;
    return std::make_shared<TransformerImpl>(o);
  }
  throw std::invalid_argument("model type \"" + c.type + "\" is unknown; valid: " + common::join_names(common::kModelTypes));
}

int64_t count_parameters(const Seq2SeqModelImpl& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

}  // namespace nmt::models
