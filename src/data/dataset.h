#pragma once
// Tensors of encoded sentence pairs and shuffled mini-batches (d2l.ai §10.5 load_data_nmt).

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "data/corpus.h"
#include "data/vocab.h"

namespace nmt::data {

/// A split of the corpus as padded id tensors (d2l build_array_nmt).
struct TensorDataset {
  torch::Tensor src;            ///< `[n, num_steps]` int64 source ids, `<eos>`-terminated, `<pad>`-padded
  torch::Tensor src_valid_len;  ///< `[n]` int64
  torch::Tensor tgt;            ///< `[n, num_steps]` int64 target ids
  torch::Tensor tgt_valid_len;  ///< `[n]` int64
  int64_t size() const { return src.defined() ? src.size(0) : 0; }
};

/// Encodes pairs[indices] with the vocabularies (truncate/pad to num_steps, see encode_sequence).
TensorDataset make_tensor_dataset(const std::vector<SentencePair>& pairs, const std::vector<int64_t>& indices,
                                  const Vocab& src_vocab, const Vocab& tgt_vocab, int64_t num_steps);

/// One mini-batch; tensors as in TensorDataset with n = batch size and, when trimmed, fewer steps.
struct Batch {
  torch::Tensor src, src_valid_len, tgt, tgt_valid_len;
  int64_t size() const { return src.size(0); }
  /// Moves every tensor to `device` (non-blocking where possible).
  Batch to(const c10::Device& device) const;
};

/// Rows `index` (`[b]` int64) of `data`. With `trim`, columns past the longest valid length in the batch
/// are dropped (they are all `<pad>`), which every model here treats identically to keeping them.
Batch gather_batch(const TensorDataset& data, const torch::Tensor& index, bool trim);

/// Order of the examples for one epoch: a permutation of 0..n-1 from (seed, epoch) alone, cut into batches
/// of `batch_size` (the last may be smaller). With `bucket`, each window of 50 batches is sorted by (target
/// length, source length) before being cut and the batches' order is shuffled again, so batches hold
/// sentences of similar length and trimming removes most padding. Depending only on (seed, epoch) makes resumed runs see the same batches. Throws
/// std::invalid_argument when batch_size < 1.
std::vector<torch::Tensor> epoch_batches(const TensorDataset& data, int64_t batch_size, uint64_t seed, int64_t epoch,
                                         bool bucket);

/// Consecutive batches in order, without shuffling (evaluation).
std::vector<torch::Tensor> sequential_batches(int64_t n, int64_t batch_size);

}  // namespace nmt::data
