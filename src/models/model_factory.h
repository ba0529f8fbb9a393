#pragma once
// Builds a model from its config; the only place that knows the model types.

#include "common/config.h"
#include "models/seq2seq.h"

namespace nmt::models {

/// Creates the model named by `config.type` ("seq2seq", "seq2seq_attention", "transformer") with the given
/// vocabulary sizes. Throws std::invalid_argument naming the type when it is unknown.
Seq2SeqModel make_model(const common::ModelConfig& config, int64_t src_vocab_size, int64_t tgt_vocab_size);

/// Number of trainable parameters.
int64_t count_parameters(const Seq2SeqModelImpl& model);

}  // namespace nmt::models
