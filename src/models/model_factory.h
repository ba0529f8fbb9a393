#pragma once
// Builds a model from its config: maps each model type name (common::kModelTypes, defined in
// common/config.h) to its class. The trainer, the search and the CLI never branch on the model type.

#include "common/config.h"
#include "models/seq2seq.h"

namespace nmt::models {

/// Creates the model named by `config.type` (one of common::kModelTypes: "seq2seq" and "seq2seq_attention" →
/// GruSeq2SeqImpl without/with Bahdanau attention, d2l.ai §10.7/§11.4; "transformer" → TransformerImpl,
/// d2l.ai §11.7) with the given vocabulary sizes. Throws std::invalid_argument naming the type when it is
/// unknown (Config::validate rejects it earlier).
Seq2SeqModel make_model(const common::ModelConfig& config, int64_t src_vocab_size, int64_t tgt_vocab_size);

/// Number of trainable parameters.
int64_t count_parameters(const Seq2SeqModelImpl& model);

}  // namespace nmt::models
