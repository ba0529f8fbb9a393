#pragma once

#include <cstdint>
#include <vector>

#include "data/corpus.h"

namespace nmt::data {

/// Indices into a vector of SentencePair, each list in ascending order.
struct Split {
  std::vector<int64_t> train, valid, test;
};

/// Deterministic train/valid/test split grouped by source (English) sentence, so no English sentence of
/// valid or test appears in train (d2l.ai 10.5 has no split; grouping avoids leaking repeated sentences).
/// The unique source sentences (tokens joined by ' ', in order of first appearance) are shuffled with a
/// Fisher–Yates loop driven by std::mt19937_64(seed) and unbiased rejection sampling (portable across
/// standard libraries, unlike std::shuffle); the first llround(test_ratio * n_unique) groups go to test,
/// the next llround(valid_ratio * n_unique) to valid, the rest to train.
/// Throws std::invalid_argument naming the values unless both ratios are in [0, 1) and their sum < 1.
Split split_by_source(const std::vector<SentencePair>& pairs, double valid_ratio, double test_ratio, uint64_t seed);

}  // namespace nmt::data
