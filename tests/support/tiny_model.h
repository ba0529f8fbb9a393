#pragma once
// Test helper: the model config the unit tests use for tiny CPU models of every type.

#include <string>

#include "common/config.h"

namespace nmt::test {

/// Config of a tiny model of `type` (seq2seq | seq2seq_attention | transformer): 16 hiddens, embeddings of 8,
/// FFN of 32, the other fields at their defaults. Vocabulary sizes are passed to make_model separately.
inline common::ModelConfig tiny_model_config(const std::string& type) {
  common::ModelConfig c;
  c.type = type;
  c.num_hiddens = 16;
  c.embed_size = 8;
  c.ffn_num_hiddens = 32;
  return c;
}

}  // namespace nmt::test
