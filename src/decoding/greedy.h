#pragma once
// Batched greedy decoding (d2l.ai §10.7 predict_seq2seq, for a whole batch at once).

#include <vector>

#include <torch/types.h>

#include "models/seq2seq.h"

namespace nmt::decoding {

/// Output of a search over a batch.
struct SearchResult {
  std::vector<std::vector<int64_t>> tokens;  ///< per sentence, the output ids without `<eos>`
  std::vector<int64_t> steps;                ///< per sentence, decoder steps taken (the `<eos>` step included)
};

/// Greedy search: starts every sentence with `bos`, feeds back the arg-max token, and stops a sentence at
/// `eos` (not included in the output) or after `max_len` steps; the loop ends as soon as every sentence
/// has emitted `eos`; finished sentences leave the batch (DecoderState::select) once they are an eighth of it,
/// so later steps cost about the sentences still running without copying the state at every step (except when
/// `record` is given: attention chunks keep the whole batch). The tokens do not depend on the batch.
/// `src` `[batch, src_steps]`, `src_valid_lens` `[batch]`. Runs without gradients; the
/// caller puts the model in eval mode. `record`, when given, receives the attention weights of every step.
/// Throws std::invalid_argument when max_len < 1.
SearchResult greedy_search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                           const torch::Tensor& src_valid_lens, int64_t bos, int64_t eos, int64_t max_len,
                           models::AttentionRecord* record = nullptr);

}  // namespace nmt::decoding
